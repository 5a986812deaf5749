// /widget.js: puts the customer chat on any page as a launcher button and a panel. The panel frames
// this server's /chat, so the chat runs on its own origin under its own CSP and the host page's styles
// and scripts never touch it. Usage:
// <script src="https://chat.example.com/widget.js" data-booking="bk_1" data-token="JWT"></script>

(() => {
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script) return;
  const origin = new URL(script.src, window.location.href).origin;
  const booking = script.dataset.booking ?? "";
  const token = script.dataset.token ?? "";

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.textContent = "Open chat";
  launcher.setAttribute("aria-expanded", "false");
  Object.assign(launcher.style, {
    position: "fixed", right: "16px", bottom: "16px", zIndex: "2147483000",
    padding: "12px 18px", borderRadius: "999px", border: "none",
    background: "#0b57d0", color: "#ffffff", font: "600 16px system-ui, sans-serif",
    boxShadow: "0 2px 8px rgba(0,0,0,.3)", cursor: "pointer",
  });

  const panel = document.createElement("div");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Chat");
  Object.assign(panel.style, {
    position: "fixed", right: "16px", bottom: "72px", zIndex: "2147483000",
    width: "min(380px, calc(100vw - 32px))", height: "min(600px, calc(100vh - 96px))",
    display: "none", border: "1px solid #c9ced6", borderRadius: "12px", overflow: "hidden",
    boxShadow: "0 4px 16px rgba(0,0,0,.25)", background: "#ffffff",
  });

  let frame: HTMLIFrameElement | null = null;

  const open = () => {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = "Concierge chat";
      // Voice messages: a framed page may use the microphone only when its frame allows it.
      frame.allow = "microphone";
      frame.src = `${origin}/chat?booking=${encodeURIComponent(booking)}&embed=1#token=${encodeURIComponent(token)}`;
      Object.assign(frame.style, { width: "100%", height: "100%", border: "0" });
      panel.appendChild(frame);
    }
    panel.style.display = "block";
    launcher.textContent = "Close chat";
    launcher.setAttribute("aria-expanded", "true");
    frame.focus();
  };

  const close = () => {
    if (panel.style.display === "none") return;
    panel.style.display = "none";
    launcher.textContent = "Open chat";
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  };

  launcher.addEventListener("click", () => (panel.style.display === "none" ? open() : close()));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") close();
  });
  window.addEventListener("message", (e) => {
    if (e.origin === origin && frame && e.source === frame.contentWindow && e.data?.type === "concierge:close") close();
  });

  const mount = () => document.body.append(panel, launcher);
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
