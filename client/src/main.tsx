import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App";
import { ChatProvider } from "./chat/ChatProvider";
import { createChatSocket } from "./chat/socket";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");

createRoot(root).render(
  <StrictMode>
    <ChatProvider socket={createChatSocket()}>
      <App />
    </ChatProvider>
  </StrictMode>,
);
