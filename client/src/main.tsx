import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App";
import { ChatProvider } from "./chat/ChatProvider";
import { createChatSocket } from "./chat/socket";
import { preloadMarkdown } from "./components/RichText";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");

createRoot(root).render(
  <StrictMode>
    <ChatProvider socket={createChatSocket()}>
      <App />
    </ChatProvider>
  </StrictMode>,
);

// The markdown parser is its own file, fetched once the page has shown.
window.requestAnimationFrame(() => window.setTimeout(preloadMarkdown, 0));
