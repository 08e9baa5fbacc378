import { useChat } from "../chat/ChatProvider";

/**
 * While this device proves work for the server (a room under a raid, or a flood of
 * connections), what it is doing and how far along: a second or two, usually.
 */
export function ProofStatus() {
  const { state } = useChat();
  const proving = state.proving;
  if (!proving) return null;
  const percent = Math.round(proving.progress * 100);
  return (
    <div className="proof-status" role="status">
      <span>
        {proving.room === null
          ? "The server is fending off a flood of connections: your device is showing it is a person's"
          : `#${proving.room} is under a raid: newcomers' devices show they are people's first`}
        … {percent}%
      </span>
      <progress max={100} value={percent} aria-label="Proof of work" />
    </div>
  );
}
