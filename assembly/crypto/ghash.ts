// placeholder: ghash (being written)
export const GHASH_PLACEHOLDER: i32 = 0;
