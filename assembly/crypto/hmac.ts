// placeholder: hmac (being written)
export const HMAC_PLACEHOLDER: i32 = 0;
