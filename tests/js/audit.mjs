// Runs the GraphQL over HTTP spec's audit (the graphql-http package's auditServer) against a URL and
// prints one JSON line per result: {status: "ok" | "warn" | "error", id, name, reason}.
import { auditServer } from "graphql-http";

const url = process.argv[2];
const results = await auditServer({ url });
for (const result of results) {
  console.log(JSON.stringify({ status: result.status, id: result.id, name: result.name, reason: result.reason ?? null }));
}
