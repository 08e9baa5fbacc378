/**
 * A message's text with markdown (Markdown.tsx), loaded after the first paint: until
 * the parser arrives, the same text shows as plain text with its links.
 */
import { lazy, Suspense } from "react";

import { MessageText } from "./MessageText";

const loadMarkdown = () => import("./Markdown");
const Markdown = lazy(loadMarkdown);

/** Start fetching the parser now (the app calls this once it has painted). */
export function preloadMarkdown(): void {
  void loadMarkdown();
}

export function RichText({ text, myName }: { text: string; myName?: string }) {
  return (
    <Suspense fallback={<MessageText text={text} myName={myName} />}>
      <Markdown text={text} myName={myName} />
    </Suspense>
  );
}
