/**
 * koffi settings shared by its users in this process (GSS-API, the UDP batch): whichever loads
 * a library first must apply them, since koffi fixes them at its first library.
 */

/**
 * Stack for koffi's async calls: a GSS-API call runs on it, and a KDC exchange goes through
 * getaddrinfo and the krb5 crypto code. koffi's 128 KiB default is tighter than any libc thread
 * stack; 1 MiB is glibc-comfortable.
 */
export const KOFFI_ASYNC_STACK_SIZE = 1 << 20;

interface KoffiConfig {
  config(): { async_stack_size?: number };
  config(settings: { async_stack_size: number }): unknown;
}

/** Applies the shared settings; a no-op once koffi has loaded a library (it keeps its own). */
export function prepareKoffi(koffi: unknown): void {
  const k = koffi as KoffiConfig;
  try {
    if ((k.config().async_stack_size ?? 0) < KOFFI_ASYNC_STACK_SIZE) {
      k.config({ async_stack_size: KOFFI_ASYNC_STACK_SIZE });
    }
  } catch {
    // A library is loaded already: the settings are fixed.
  }
}
