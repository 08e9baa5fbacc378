import { linkify } from "../chat/linkify";
import { splitMentions } from "../chat/mentions";

/**
 * Message text as text (React escapes it), with http(s) URLs as safe links and
 * `@name` marked (yours, `myName`, stands out).
 */
export function MessageText({ text, myName }: { text: string; myName?: string }) {
  return (
    <>
      {linkify(text).map((part, index) =>
        part.kind === "link" ? (
          <a key={index} href={part.href} target="_blank" rel="noopener noreferrer">
            {part.text}
          </a>
        ) : (
          <span key={index}>
            {splitMentions(part.text, myName).map((piece, at) =>
              piece.kind === "mention" ? (
                <span key={at} className={piece.mine ? "mention mention--me" : "mention"}>
                  {piece.text}
                </span>
              ) : (
                piece.text
              ),
            )}
          </span>
        ),
      )}
    </>
  );
}
