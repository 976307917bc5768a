// `node --import ./test/helpers/hide-koffi.mjs ...`: makes the optional dependency koffi
// unresolvable, as on an install without optional dependencies (npm ci --omit=optional), so a
// test can check that ferry still works and GSS-API says in one line why it is unavailable.
import { register } from 'node:module';

const hook = `
export async function resolve(specifier, context, next) {
  if (specifier === 'koffi' || specifier.startsWith('koffi/')) {
    const err = new Error("Cannot find package 'koffi' (hidden by test/helpers/hide-koffi.mjs)");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}
`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
