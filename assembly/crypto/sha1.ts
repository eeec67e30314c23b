// placeholder: sha1 (being written)
export const SHA1_PLACEHOLDER: i32 = 0;
