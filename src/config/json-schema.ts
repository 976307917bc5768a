/** The JSON Schema of the configuration file, generated from the zod schema (one source). */
import { z } from 'zod';
import { configSchema } from './schema.js';

export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/ferry-proxy/ferry/schema/ferry.schema.json',
    title: 'ferry configuration',
  };
}
