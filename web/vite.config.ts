import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into web/dist, which `venvflow server` serves; everything is bundled (no CDN).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2500 },
  server: { proxy: { "/api": "http://127.0.0.1:8793" } },
});
