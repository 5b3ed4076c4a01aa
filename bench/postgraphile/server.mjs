// Serves graphile.config.mjs with grafserv on node:http; prints "listening <port>" once ready.
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import preset from "./graphile.config.mjs";

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.once("listening", () => console.log(`listening ${preset.grafserv.port}`));
await serv.addTo(server);
server.listen(preset.grafserv.port, preset.grafserv.host);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.close();
    pgl.release().then(() => process.exit(0));
  });
}
