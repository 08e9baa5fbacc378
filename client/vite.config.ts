/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { compression } from "vite-plugin-compression2";

// The dev server proxies the socket and the health check to the chat server, so the
// page and its socket share one origin, as they do in production.
const chatServer = process.env.CHAT_SERVER_URL ?? "http://localhost:5000";

export default defineConfig({
  plugins: [
    react(),
    // Precompressed copies beside each asset (.gz and .br): the chat server sends
    // them as they are, with Content-Encoding, instead of compressing per request.
    compression({ algorithms: ["gzip", "brotliCompress"], threshold: 1024 }),
  ],
  server: {
    port: 8080,
    strictPort: false,
    proxy: {
      "/socket.io": { target: chatServer, ws: true, changeOrigin: true },
      "/healthz": { target: chatServer, changeOrigin: true },
    },
  },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 400 },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/testing/setup.ts"],
    css: false,
  },
});
