/**
 * The C declarations: which functions of MIT `libgssapi_krb5.so.2` we call, with which types,
 * through koffi. Nothing here runs at import time; {@link declare} is called by the loader with
 * the koffi module it imported dynamically (koffi is an optional dependency).
 *
 * Layouts on LP64 (checked against <gssapi/gssapi.h> of MIT krb5 1.20, and asserted at load):
 *   gss_buffer_desc    { size_t length; void *value; }        16 octets, value at offset 8
 *   gss_OID_desc       { OM_uint32 length; void *elements; }  16 octets, elements at offset 8
 *   gss_key_value_element_desc { const char *key; const char *value; }
 *   gss_key_value_set_desc     { OM_uint32 count; gss_key_value_element_desc *elements; }
 * gss_name_t, gss_ctx_id_t, gss_cred_id_t and gss_OID_set are opaque pointers; GSS_C_NO_NAME,
 * GSS_C_NO_CONTEXT, GSS_C_NO_CREDENTIAL, GSS_C_NO_OID, GSS_C_NO_BUFFER and
 * GSS_C_NO_CHANNEL_BINDINGS are null. Name types and the krb5 mechanism OID are the library's
 * exported `gss_OID` variables (pointers to gss_OID_desc), read through `lib.symbol()`.
 */

/** A pointer as koffi 3 represents it: a BigInt address, or null for NULL. */
export type Pointer = bigint | null;
/** An output parameter: a one-element array that koffi fills in after the call. */
export type Out<T> = [T];

/** gss_buffer_desc as passed in: our bytes (koffi passes a pointer to them during the call). */
export interface BufferIn {
  length: number;
  value: Uint8Array | null;
}
/** gss_buffer_desc as filled in by the library: its memory, freed with gss_release_buffer. */
export interface BufferOut {
  length?: number;
  value?: Pointer;
}

interface KeyValue {
  key: string;
  value: string;
}
/** gss_key_value_set_desc: the "cred store" of gss_acquire_cred_from. */
export interface CredStore {
  count: number;
  elements: KeyValue[];
}

/** The subset of the koffi module we use (koffi ships `any`-typed declarations). */
export interface Koffi {
  load(path: string): KoffiLibrary;
  struct(name: string, members: Record<string, string>): KoffiType;
  sizeof(type: KoffiType | string): number;
  offsetof(type: KoffiType | string, member: string): number;
  view(pointer: bigint, length: number): ArrayBuffer;
  decode(pointer: bigint, type: string): unknown;
  config(settings?: Record<string, number>): Record<string, number>;
}
export interface KoffiLibrary {
  func(prototype: string): unknown;
  symbol(name: string): bigint;
}
export type KoffiType = object;

/** A declared C function: callable synchronously, or via `.async(...args, callback)`. */
export interface Native<A extends unknown[]> {
  (...args: A): number;
  async(...args: [...A, (err: unknown, result: number) => void]): void;
}

type Minor = Out<number>;

/** The functions, by their C names. All return OM_uint32 (the major status). */
export interface GssFunctions {
  gss_import_name: Native<[Minor, BufferIn, Pointer, Out<Pointer>]>;
  gss_display_name: Native<[Minor, Pointer, BufferOut, null]>;
  gss_release_name: Native<[Minor, Out<Pointer>]>;
  gss_acquire_cred_from: Native<
    [Minor, Pointer, number, null, number, CredStore | null, Out<Pointer>, null, null]
  >;
  gss_release_cred: Native<[Minor, Out<Pointer>]>;
  gss_init_sec_context: Native<
    [
      Minor,
      Pointer, // cred
      Out<Pointer>, // context (in/out)
      Pointer, // target name
      Pointer, // mech
      number, // req_flags
      number, // time_req
      null, // channel bindings
      BufferIn | null, // input token
      null, // actual mech
      BufferOut, // output token
      Out<number>, // ret_flags
      Out<number>, // time_rec
    ]
  >;
  gss_accept_sec_context: Native<
    [
      Minor,
      Out<Pointer>, // context (in/out)
      Pointer, // cred
      BufferIn, // input token
      null, // channel bindings
      null, // src_name (we use gss_inquire_context)
      null, // mech
      BufferOut, // output token
      Out<number>, // ret_flags
      Out<number>, // time_rec
      null, // delegated cred
    ]
  >;
  gss_delete_sec_context: Native<[Minor, Out<Pointer>, null]>;
  gss_inquire_context: Native<
    [
      Minor,
      Pointer, // context
      Out<Pointer>, // src_name
      Out<Pointer>, // targ_name
      Out<number>, // lifetime_rec
      null, // mech_type
      Out<number>, // ctx_flags
      Out<number>, // locally_initiated
      Out<number>, // open
    ]
  >;
  gss_wrap: Native<[Minor, Pointer, number, number, BufferIn, Out<number>, BufferOut]>;
  gss_unwrap: Native<[Minor, Pointer, BufferIn, BufferOut, Out<number>, Out<number>]>;
  gss_wrap_size_limit: Native<[Minor, Pointer, number, number, number, Out<number>]>;
  gss_display_status: Native<[Minor, number, number, null, Out<number>, BufferOut]>;
  gss_release_buffer: Native<[Minor, BufferOut]>;
  gss_export_sec_context: Native<[Minor, Out<Pointer>, BufferOut]>;
  gss_import_sec_context: Native<[Minor, BufferIn, Out<Pointer>]>;
}

/** The library's exported OIDs we need (values of its `gss_OID` variables). */
export interface GssOids {
  hostbasedService: Pointer;
  krb5PrincipalName: Pointer;
  krb5Mechanism: Pointer;
}

const prototypes: Record<keyof GssFunctions, string> = {
  gss_import_name:
    'uint32_t gss_import_name(_Out_ uint32_t *minor, gss_buffer_desc *input_name, void *name_type, _Out_ void **output_name)',
  gss_display_name:
    'uint32_t gss_display_name(_Out_ uint32_t *minor, void *name, _Out_ gss_buffer_desc *output_name, _Out_ void **output_name_type)',
  gss_release_name: 'uint32_t gss_release_name(_Out_ uint32_t *minor, _Inout_ void **name)',
  gss_acquire_cred_from:
    'uint32_t gss_acquire_cred_from(_Out_ uint32_t *minor, void *desired_name, uint32_t time_req, void *desired_mechs, int cred_usage, gss_key_value_set_desc *cred_store, _Out_ void **output_cred, _Out_ void **actual_mechs, _Out_ uint32_t *time_rec)',
  gss_release_cred: 'uint32_t gss_release_cred(_Out_ uint32_t *minor, _Inout_ void **cred)',
  gss_init_sec_context:
    'uint32_t gss_init_sec_context(_Out_ uint32_t *minor, void *cred, _Inout_ void **context, void *target_name, void *mech_type, uint32_t req_flags, uint32_t time_req, void *bindings, gss_buffer_desc *input_token, _Out_ void **actual_mech, _Out_ gss_buffer_desc *output_token, _Out_ uint32_t *ret_flags, _Out_ uint32_t *time_rec)',
  gss_accept_sec_context:
    'uint32_t gss_accept_sec_context(_Out_ uint32_t *minor, _Inout_ void **context, void *cred, gss_buffer_desc *input_token, void *bindings, _Out_ void **src_name, _Out_ void **mech_type, _Out_ gss_buffer_desc *output_token, _Out_ uint32_t *ret_flags, _Out_ uint32_t *time_rec, _Out_ void **delegated_cred)',
  gss_delete_sec_context:
    'uint32_t gss_delete_sec_context(_Out_ uint32_t *minor, _Inout_ void **context, _Out_ gss_buffer_desc *output_token)',
  gss_inquire_context:
    'uint32_t gss_inquire_context(_Out_ uint32_t *minor, void *context, _Out_ void **src_name, _Out_ void **targ_name, _Out_ uint32_t *lifetime_rec, _Out_ void **mech_type, _Out_ uint32_t *ctx_flags, _Out_ int *locally_initiated, _Out_ int *open)',
  gss_wrap:
    'uint32_t gss_wrap(_Out_ uint32_t *minor, void *context, int conf_req_flag, uint32_t qop_req, gss_buffer_desc *input, _Out_ int *conf_state, _Out_ gss_buffer_desc *output)',
  gss_unwrap:
    'uint32_t gss_unwrap(_Out_ uint32_t *minor, void *context, gss_buffer_desc *input, _Out_ gss_buffer_desc *output, _Out_ int *conf_state, _Out_ uint32_t *qop_state)',
  gss_wrap_size_limit:
    'uint32_t gss_wrap_size_limit(_Out_ uint32_t *minor, void *context, int conf_req_flag, uint32_t qop_req, uint32_t req_output_size, _Out_ uint32_t *max_input_size)',
  gss_display_status:
    'uint32_t gss_display_status(_Out_ uint32_t *minor, uint32_t status_value, int status_type, void *mech_type, _Inout_ uint32_t *message_context, _Out_ gss_buffer_desc *status_string)',
  gss_release_buffer:
    'uint32_t gss_release_buffer(_Out_ uint32_t *minor, _Inout_ gss_buffer_desc *buffer)',
  gss_export_sec_context:
    'uint32_t gss_export_sec_context(_Out_ uint32_t *minor, _Inout_ void **context, _Out_ gss_buffer_desc *token)',
  gss_import_sec_context:
    'uint32_t gss_import_sec_context(_Out_ uint32_t *minor, gss_buffer_desc *token, _Out_ void **context)',
};

export interface Declared {
  readonly fns: GssFunctions;
  readonly oids: GssOids;
}

// koffi's type names are process-global: declare the structs once per koffi module.
const structs = new WeakMap<Koffi, { buffer: KoffiType; oid: KoffiType }>();
function declareStructs(koffi: Koffi): { buffer: KoffiType; oid: KoffiType } {
  let declared = structs.get(koffi);
  if (declared === undefined) {
    const buffer = koffi.struct('gss_buffer_desc', { length: 'size_t', value: 'void *' });
    const oid = koffi.struct('gss_OID_desc', { length: 'uint32_t', elements: 'void *' });
    koffi.struct('gss_key_value_element_desc', { key: 'const char *', value: 'const char *' });
    koffi.struct('gss_key_value_set_desc', {
      count: 'uint32_t',
      elements: 'gss_key_value_element_desc *',
    });
    declared = { buffer, oid };
    structs.set(koffi, declared);
  }
  return declared;
}

/**
 * Declares the structs and functions on a loaded library. Throws when a symbol is missing
 * (e.g. gss_acquire_cred_from needs MIT krb5 ≥ 1.11) or a struct layout is not the expected one.
 */
export function declare(koffi: Koffi, lib: KoffiLibrary): Declared {
  const { buffer, oid } = declareStructs(koffi);
  const pointerSize = koffi.sizeof('void *');
  if (
    koffi.offsetof(buffer, 'value') !== koffi.sizeof('size_t') ||
    koffi.offsetof(oid, 'elements') !== pointerSize
  ) {
    throw new Error('unexpected struct layout for gss_buffer_desc / gss_OID_desc');
  }
  const fns = {} as Record<keyof GssFunctions, unknown>;
  for (const [name, prototype] of Object.entries(prototypes)) {
    fns[name as keyof GssFunctions] = lib.func(prototype);
  }
  // Each symbol is a `gss_OID` variable: read the pointer it holds.
  const oidVariable = (name: string): Pointer => {
    const value = koffi.decode(lib.symbol(name), 'void *');
    return typeof value === 'bigint' ? value : null;
  };
  return {
    fns: fns as unknown as GssFunctions,
    oids: {
      hostbasedService: oidVariable('GSS_C_NT_HOSTBASED_SERVICE'),
      krb5PrincipalName: oidVariable('GSS_KRB5_NT_PRINCIPAL_NAME'),
      krb5Mechanism: oidVariable('gss_mech_krb5'),
    },
  };
}
