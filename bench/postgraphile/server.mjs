// Serves graphile.config.mjs with grafserv on node:http; the bench waits for it to answer `{ __typename }`.
// GET /__bench/statements answers how many statements its connections have sent to PostgreSQL so far
// (every `query` of the `pg` client the adaptor uses, counted here), for the bench's SQL/req column.
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import preset from "./graphile.config.mjs";

const pg = createRequire(import.meta.url)("pg"); // the CommonJS instance the pg adaptor requires
let statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(...args) {
  statements += 1;
  return query.apply(this, args);
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
await serv.ready();
const handle = serv.createHandler();
const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/__bench/statements") {
    res.writeHead(200, { "content-type": "text/plain" }).end(String(statements));
    return;
  }
  handle(req, res, () => res.writeHead(404).end());
});
server.listen(preset.grafserv.port, preset.grafserv.host, () => console.log(`listening ${preset.grafserv.port}`));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    pgl.release().then(() => process.exit(0));
  });
}
