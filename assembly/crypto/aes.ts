// placeholder: aes (being written)
export const AES_PLACEHOLDER: i32 = 0;
