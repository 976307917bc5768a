/**
 * The configuration file's schema (zod): the single description of every key, from which the
 * JSON Schema for editors is generated (schema/ferry.schema.json) and `check-config` validates.
 * Values are normalised on the way in (durations to ms, addresses to {host, port}); defaults
 * live in the server options (src/server/options.ts), not here, so there is one source of them.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { parseHostPort } from '../protocol/address.js';

const durationText = /^(0|\d+(\.\d+)?(ms|s|m|h|d))$/;

/** `500ms`, `10s`, `2m`, `2h`, `1d` or `0`, to milliseconds. */
export const duration = z
  .union([
    z.string().regex(durationText, 'a duration such as 500ms, 10s, 2m, 2h or 0'),
    z.literal(0),
  ])
  .transform((v, ctx) => {
    const ms = typeof v === 'number' ? v : parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${String(v)}" is too long a duration` });
      return z.NEVER;
    }
    return ms;
  });

/** `host:port` or `[v6]:port`. */
export const hostPort = z.string().transform((v, ctx) => {
  try {
    return parseHostPort(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const count = z.number().int().nonnegative();
const positive = z.number().int().positive();

export const logLevelSchema = z.enum([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]);

export const configSchema = z
  .strictObject({
    listen: z
      .array(hostPort)
      .min(1)
      .optional()
      .describe('Addresses to listen on (default ["127.0.0.1:1080"]).'),
    users: z
      .string()
      .min(1)
      .optional()
      .describe('Users file (name:scrypt-hash[:groups] per line); requires username/password.'),
    insecureOpenProxy: z
      .boolean()
      .optional()
      .describe('Allow a non-loopback listener without authentication.'),
    timeouts: z
      .strictObject({
        handshake: duration.optional().describe('Deadline from accept to reply (default 10s).'),
        connect: duration.optional().describe('Outgoing connect timeout (default 10s).'),
        idle: duration.optional().describe('Close tunnels idle this long; 0 = never (default 2h).'),
        drain: duration
          .optional()
          .describe('Time sessions get to finish on SIGTERM (default 10s).'),
      })
      .optional(),
    limits: z
      .strictObject({
        maxConnections: positive
          .optional()
          .describe('Concurrent client connections (default 10000).'),
        maxConnectionsPerIp: count
          .optional()
          .describe('Concurrent connections per client IP; 0 = unlimited (default).'),
        maxSessionsPerUser: count
          .optional()
          .describe('Concurrent sessions per user; 0 = unlimited (default).'),
        authFailureLimit: count
          .optional()
          .describe(
            'Failed logins per client IP per window before throttling; 0 = off (default 10).',
          ),
        authFailureWindow: duration
          .optional()
          .describe('Window of the failed-login throttle (default 1m).'),
      })
      .optional(),
    log: z
      .strictObject({
        level: logLevelSchema.optional().describe('Log level (default info).'),
        file: z
          .string()
          .min(1)
          .optional()
          .describe('Log file (default stdout); reopened on SIGHUP for rotation.'),
      })
      .optional(),
    admin: z
      .union([z.number().int().min(0).max(65535), hostPort])
      .optional()
      .describe(
        'Admin listener for /metrics, /healthz, /readyz: a port (on 127.0.0.1) or host:port.',
      ),
    watch: z
      .boolean()
      .optional()
      .describe('Reload when the config file changes, as on SIGHUP (default false).'),
    workers: z
      .union([z.number().int().min(1).max(1024), z.literal('auto')])
      .optional()
      .describe(
        'Worker processes sharing the listeners (node:cluster); "auto" = one per core (default 1).',
      ),
  })
  .describe('ferry configuration');

/** The configuration after validation: durations in ms, addresses parsed. */
export type FerryConfig = z.output<typeof configSchema>;
