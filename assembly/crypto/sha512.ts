// placeholder: sha512 (being written)
export const SHA512_PLACEHOLDER: i32 = 0;
