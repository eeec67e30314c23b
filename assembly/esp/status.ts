// Status codes shared by wasm and the SDK (sdk/dataplane/types.ts STATUS_NAMES has the same order).
// Every drop has exactly one code; every code is a counter per SA and globally.
export const ST_OK: u32 = 0;
export const ST_NO_SA: u32 = 1;
export const ST_REPLAY: u32 = 2;
export const ST_INTEGRITY_FAILED: u32 = 3;
export const ST_BAD_PADDING: u32 = 4;
export const ST_TRUNCATED: u32 = 5;
export const ST_SEQ_OVERFLOW: u32 = 6;
export const ST_LIFETIME_EXPIRED: u32 = 7;
export const ST_DUMMY: u32 = 8;
export const ST_BAD_NEXT_HEADER: u32 = 9;
export const ST_TOO_BIG: u32 = 10;
export const ST_INVALID_SA: u32 = 11;
export const ST_MALFORMED_INNER: u32 = 12;
/** Number of counters reserved per SA and globally (room for later codes). */
export const STATUS_SLOTS: i32 = 16;
