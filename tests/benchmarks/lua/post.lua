-- POST one JSON row to the URL's path: wrk ... -s post.lua <url>
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Prefer"] = "return=minimal"
wrk.body = '{"name":"bench item","price":9.99,"category_id":7,'
  .. '"created_at":"2024-06-01T00:00:00+00:00","in_stock":true}'
