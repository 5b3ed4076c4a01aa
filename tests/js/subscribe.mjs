// Usage: node subscribe.mjs WS_URL ACCESS_TOKEN SESSION_ID COUNT
// Prints "ready" once subscribed, then one JSON line per message, and exits after COUNT messages.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, sessionId, count] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  lazy: false,
  on: { connected: () => console.log("ready") },
});

let seen = 0;
const timer = setTimeout(() => { console.error("timed out"); process.exit(2); }, 20000);
client.subscribe(
  { query: "subscription($id: ID!) { messageAdded(sessionId: $id) { seq content } }", variables: { id: sessionId } },
  {
    next: (result) => {
      console.log(JSON.stringify(result));
      seen += 1;
      if (seen >= Number(count)) { clearTimeout(timer); client.dispose(); process.exit(0); }
    },
    error: (error) => { console.error(JSON.stringify(error)); process.exit(1); },
    complete: () => {},
  },
);
