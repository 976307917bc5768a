/**
 * V8 heap sizing for a long-running proxy, applied before anything else is loaded (main.ts
 * imports this module first; ES modules evaluate in import order).
 *
 * V8 doubles its young generation (up to 16 MiB per semi-space, three semi-spaces' worth of
 * pages) while a program allocates quickly and much of it survives — which is exactly what opening
 * thousands of tunnels looks like. Those pages stay resident afterwards: measured with 9 000 idle
 * tunnels, RSS grew 8.2 KiB per tunnel of which only 3.4 KiB was live heap (10.4 KiB at 5 000).
 * A growth factor of 1 keeps the young generation at its initial size: 5.7 KiB per tunnel in the
 * bench at 9 000 tunnels instead of 8.0 (issue 7's target is 8 KiB). Download throughput and
 * tunnels per second did not move beyond the bench's noise; a 1-stream upload, which still reads
 * the client with 'data' (a fresh 64 KiB buffer per read, so many more young collections), lost
 * ~20 %. It only changes when the garbage collector runs, never what is kept.
 *
 * `FERRY_V8_FLAGS` replaces the default (an empty value applies nothing), e.g. for a measurement:
 * `FERRY_V8_FLAGS=--semi-space-growth-factor=2` restores V8's own.
 */
import v8 from 'node:v8';

const DEFAULT_FLAGS = '--semi-space-growth-factor=1';

const flags = process.env.FERRY_V8_FLAGS ?? DEFAULT_FLAGS;
if (flags.trim() !== '') v8.setFlagsFromString(flags);
