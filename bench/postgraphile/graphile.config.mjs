// PostGraphile V5 over the bench database, read-only, for `python -m bench --postgraphile` (bench/README.md).
// The bench starts `node server.mjs` with DATABASE_URL and PORT set; it listens on 127.0.0.1 only.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  // Read-only: no create/update/delete mutations are built.
  // Without PgIndexBehaviorsPlugin every column can be a `condition` or an `orderBy` (the soft-delete filter
  // `deletedAt: null` needs it: `deleted_at` has no index of its own).
  disablePlugins: ["PgMutationCreatePlugin", "PgMutationUpdateDeletePlugin", "PgIndexBehaviorsPlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PG_POOL_SIZE || 16) },
    }),
  ],
  grafserv: { port: Number(process.env.PORT || 5678), host: "127.0.0.1", graphiql: false, watch: false },
  grafast: { explain: false },
};

export default preset;
