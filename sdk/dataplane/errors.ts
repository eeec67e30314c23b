/** Why the SDK refused a call. Nothing in the dataplane changed when one is thrown. */
export type DataplaneErrorCode =
  | "BAD_PROPOSAL"
  | "BAD_KEY_LENGTH"
  | "BAD_ICV_LENGTH"
  | "BAD_SPI"
  | "DUPLICATE_SPI"
  | "BAD_WINDOW"
  | "BAD_SEQ"
  | "NO_FREE_SLOT"
  | "OUT_OF_MEMORY"
  | "UNKNOWN_SA"
  | "BAD_ARGUMENT"
  | "BATCH_FULL"
  | "WASM_LOAD";

/** A rejected dataplane call: `code` for programs, `message` says what was wrong and what is allowed. */
export class DataplaneError extends Error {
  readonly code: DataplaneErrorCode;
  constructor(code: DataplaneErrorCode, message: string) {
    super(message);
    this.name = "DataplaneError";
    this.code = code;
  }
}
