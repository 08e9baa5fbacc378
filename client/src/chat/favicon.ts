/**
 * The tab's icon with a badge while you look elsewhere: red with the number of
 * mentions of you, or a dot for other unread messages. Drawn on a canvas and set as
 * a data: URL (the page's Content-Security-Policy allows `img-src data:`).
 */
const ORIGINAL = "/favicon.svg";

function iconLink(): HTMLLinkElement | null {
  return document.querySelector<HTMLLinkElement>("link[rel='icon']");
}

let drawn = "";

export function setFaviconBadge(unread: number, mentions: number): void {
  const link = iconLink();
  if (!link) return;
  const want = mentions > 0 ? `m${mentions}` : unread > 0 ? "dot" : "";
  if (want === drawn) return;
  drawn = want;
  if (!want) {
    link.type = "image/svg+xml";
    link.href = ORIGINAL;
    return;
  }
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  const context = canvas.getContext("2d");
  if (!context) return;
  const gradient = context.createLinearGradient(0, 0, 64, 64);
  gradient.addColorStop(0, "#3056c2");
  gradient.addColorStop(1, "#7c5cd6");
  context.fillStyle = gradient;
  context.beginPath();
  context.roundRect(4, 4, 56, 56, 14);
  context.fill();
  context.fillStyle = "#c62f24";
  context.beginPath();
  context.arc(46, 18, mentions > 0 ? 18 : 12, 0, Math.PI * 2);
  context.fill();
  if (mentions > 0) {
    context.fillStyle = "#ffffff";
    context.font = "bold 24px system-ui, sans-serif";
    context.textAlign = "center";
    context.textBaseline = "middle";
    context.fillText(mentions > 9 ? "9+" : String(mentions), 46, 19);
  }
  link.type = "image/png";
  link.href = canvas.toDataURL("image/png");
}
