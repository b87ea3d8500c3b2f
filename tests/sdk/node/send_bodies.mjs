// Sends each request of a plan (JSON on stdin) with Node's own fetch (undici): bodies
// go out without `Expect: 100-continue`, as browsers send them. Prints one JSON object:
// {results: [{name, status} | {name, error}]}.
const plan = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (d) => { text += d; });
  process.stdin.on("end", () => resolve(text));
}));
const results = [];
for (const req of plan.requests) {
  const body = Buffer.alloc(req.size, 0x61);
  try {
    const resp = await fetch(req.url, { method: req.method, headers: req.headers, body });
    await resp.arrayBuffer();
    results.push({ name: req.name, status: resp.status });
  } catch (e) {
    results.push({ name: req.name, error: `${e.message}: ${e.cause?.code ?? e.cause ?? ""}` });
  }
}
process.stdout.write(JSON.stringify({ results }));
