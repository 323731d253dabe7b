// Runs each query of the test through @supabase/postgrest-js against the API at argv[2] and
// prints one JSON object: query name -> {status, data, count, error}.
import { PostgrestClient } from "@supabase/postgrest-js";

const api = new PostgrestClient(process.argv[2]);

const queries = {
  inner: () =>
    api.from("members").select("id, member_cards!inner(card_no)", { count: "exact" }).order("id").limit(3),
  innerFiltered: () =>
    api.from("books").select("isbn, copies!inner(branch_id)").eq("copies.branch_id", 2).order("isbn").limit(3),
  spread: () => api.from("books").select("title, ...authors(writer:name)").order("isbn").limit(2),
  orAcrossEmbed: () =>
    api.from("members").select("id, member_cards(card_no)").or("id.lt.3,member_cards.is.null").order("id").limit(5),
  orInsideEmbed: () =>
    api
      .from("authors")
      .select("id, books(title)")
      .or("title.like.A*,title.like.B*", { referencedTable: "books" })
      .order("id")
      .limit(2),
  fullText: () =>
    api.from("books").select("isbn, title").textSearch("search", "'secret' & 'meadow'", { config: "english" }).order("isbn"),
  webSearch: () =>
    api.from("books").select("isbn").textSearch("title", "secret -meadow", { type: "websearch", config: "english" }).order("isbn"),
  jsonPath: () =>
    api
      .from("books")
      .select("isbn, publisher:details->publisher->>name")
      .eq("details->>language", "en")
      .order("isbn")
      .limit(3),
  countOnly: () => api.from("branches").select("*", { count: "exact", head: true }),
  single: () => api.from("branches").select("name").eq("id", 1).single(),
  rpcRows: () =>
    api
      .rpc("search_books", { q: "archive" }, { count: "exact" })
      .select("title, pages")
      .gt("pages", 100)
      .order("title", { ascending: false })
      .limit(3),
  rpcScalar: () => api.rpc("book_count", { of_genre: "poetry" }),
  rpcGet: () => api.rpc("copies_per_branch", {}, { get: true }).eq("branch", "Central"),
};

const results = {};
for (const [name, query] of Object.entries(queries)) {
  const { status, data, count, error } = await query();
  results[name] = { status, data, count, error };
}
console.log(JSON.stringify(results));
