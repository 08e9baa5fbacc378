import { memo } from "react";

/** "alice is typing…" for the people typing in the room; the line keeps its height. */
export function TypingIndicator({ names }: { names: string[] }) {
  return <TypingLine text={describeTyping(names)} />;
}

const TypingLine = memo(function TypingLine({ text }: { text: string }) {
  return (
    <div className="typing" aria-live="off">
      {text}
    </div>
  );
});

export function describeTyping(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}
