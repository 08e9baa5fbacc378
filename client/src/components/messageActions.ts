/**
 * What a message row can ask of its room: reply, edit, delete, react, report, jump
 * to a quoted message. Provided once per room view with stable callbacks, so rows stay
 * memoized instead of taking a handful of props each.
 */
import { createContext, useContext } from "react";

import type { ChatMessage } from "../chat/chatReducer";

export interface MessageActions {
  reply: (message: ChatMessage) => void;
  edit: (message: ChatMessage) => void;
  remove: (message: ChatMessage) => void;
  react: (message: ChatMessage, emoji: string, on: boolean) => void;
  jumpTo: (id: string) => void;
  /** Tell the room's moderators about someone else's message. */
  report: (message: ChatMessage, reason: string) => Promise<boolean>;
  /** Who our reactions are counted as (our trip, else this connection). */
  voter: string | null;
  /** Whether a message of ours can still be edited (EDIT_WINDOW_SECONDS). */
  canEdit: (message: ChatMessage) => boolean;
}

export const MessageActionsContext = createContext<MessageActions | null>(null);

export function useMessageActions(): MessageActions | null {
  return useContext(MessageActionsContext);
}

/** The reactions offered at a tap: the usual few, in the order chats use them. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"] as const;
