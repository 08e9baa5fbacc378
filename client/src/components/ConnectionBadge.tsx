import type { ConnectionStatus } from "../chat/chatReducer";

const LABELS: Record<ConnectionStatus, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/**
 * The connection status, in words and colour. `compact` shows only a dot while all
 * is well (the room header on a phone has one line), and words when it is not.
 */
export function ConnectionBadge({ status, compact = false }: { status: ConnectionStatus; compact?: boolean }) {
  const quiet = compact && status === "connected";
  return (
    <span className={`connection connection--${status}`} role="status" title={LABELS[status]}>
      <span className="connection__dot" aria-hidden="true" />
      <span className={quiet ? "visually-hidden" : undefined}>{LABELS[status]}</span>
    </span>
  );
}
