// placeholder: sha256 (being written)
export const SHA256_PLACEHOLDER: i32 = 0;
