// Progressive enhancement: the index's name filter narrows the list as you type.
// Without JavaScript the same box submits ?q= and the server filters.
document.querySelectorAll("input[data-filter-rows]").forEach(function (box) {
  var rows = document.querySelectorAll(box.dataset.filterRows);
  box.addEventListener("input", function () {
    var wanted = box.value.trim().toLowerCase();
    rows.forEach(function (row) {
      var name = row.querySelector("td").textContent.toLowerCase();
      row.hidden = wanted !== "" && name.indexOf(wanted) < 0;
    });
  });
});
