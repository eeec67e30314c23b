// placeholder: gcm (being written)
export const GCM_PLACEHOLDER: i32 = 0;
