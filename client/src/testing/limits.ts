import type { Limits } from "../chat/protocol";

/** The limits reducer tests run under (a short message length, to test it). */
export const TEST_LIMITS: Limits = {
  max_message_length: 100,
  max_username_length: 32,
  max_room_length: 64,
  history_size: 100,
  edit_window_seconds: 600,
};
