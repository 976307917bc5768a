// Writes schema/ferry.schema.json from the zod schema. `npm run schema`; a test fails when the
// committed file is stale.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../src/config/json-schema.js';

writeFileSync(
  new URL('../schema/ferry.schema.json', import.meta.url),
  `${JSON.stringify(configJsonSchema(), null, 2)}\n`,
);
