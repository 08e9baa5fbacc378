import { useId, useState, type CSSProperties } from "react";

import { useChat } from "../chat/ChatProvider";
import { exportText, loadIdentity, parseImport, randomIdentity, type Identity } from "../chat/identity";
import { colorSeed, tripBadge } from "./Author";
import { nameColor } from "./nameColor";

const ORIGIN_TEXT: Record<Identity["origin"], string> = {
  device: "made in this browser",
  password: "made from a #password",
  imported: "imported from another browser",
};

type Open = "none" | "key" | "export" | "import" | "new";

/** Copies text; says "Copied" for two seconds (a prompt where the clipboard is shut). */
function useCopy(): [string | null, (what: string, text: string) => Promise<void>] {
  const [copied, setCopied] = useState<string | null>(null);
  async function copy(what: string, text: string) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      window.prompt("Copy this:", text);
    }
    setCopied(what);
    window.setTimeout(() => setCopied(null), 2000);
  }
  return [copied, copy];
}

/**
 * "Your identity": the trip people know you by, and your identity key, which can be
 * shown, copied, exported to another browser, replaced by an imported one, or
 * replaced by a new one (you become a new person). Switching leaves your rooms,
 * reconnects and joins them again under the new identity.
 */
export function IdentityPanel() {
  const { state, actions } = useChat();
  const identity = loadIdentity(); // read each time: a #password join may replace it
  const [open, setOpen] = useState<Open>("none");
  const [pasted, setPasted] = useState("");
  const [importProblem, setImportProblem] = useState<string | null>(null);
  const [switching, setSwitching] = useState(false);
  const [copied, copy] = useCopy();
  const id = useId();
  const trip = state.status === "connected" ? state.trip : null;
  const color = nameColor(colorSeed("", trip));
  const swatch = { "--name-light": color.light, "--name-dark": color.dark } as CSSProperties;

  async function become(next: Identity) {
    setSwitching(true);
    await actions.switchIdentity(next);
    setSwitching(false);
    setOpen("none");
    setPasted("");
  }

  function onImport() {
    const key = parseImport(pasted);
    if (!key) {
      setImportProblem("That is not an identity key. Paste the whole text from “Export” in the other browser.");
      return;
    }
    if (key === identity.key) {
      setImportProblem("That is already your identity.");
      return;
    }
    void become({ key, origin: "imported" });
  }

  function toggle(which: Open) {
    setOpen((current) => (current === which ? "none" : which));
    setImportProblem(null);
  }

  return (
    <details className="identity">
      <summary className="identity__summary">
        Your identity{" "}
        {trip ? (
          <span className="identity__trip" style={swatch}>
            {tripBadge(trip)}
          </span>
        ) : null}
      </summary>
      <div className="identity__body">
        <p className="identity__about">
          {trip ? (
            <>
              People see a badge <strong className="identity__trip" style={swatch}>{tripBadge(trip)}</strong> beside your
              name, and your name's colour comes from it: nobody else can have it. Your identity was{" "}
              {ORIGIN_TEXT[identity.origin]}; this browser remembers it.
            </>
          ) : state.status === "connected" ? (
            "The server did not give you a trip; you appear as unverified."
          ) : (
            "Your trip shows here once you are connected."
          )}
        </p>
        <div className="identity__actions" role="group" aria-label="Identity actions">
          <button type="button" className="button" aria-expanded={open === "key"} onClick={() => toggle("key")}>
            {open === "key" ? "Hide key" : "Show key"}
          </button>
          <button type="button" className="button" aria-expanded={open === "export"} onClick={() => toggle("export")}>
            Export
          </button>
          <button type="button" className="button" aria-expanded={open === "import"} onClick={() => toggle("import")}>
            Import
          </button>
          <button type="button" className="button" aria-expanded={open === "new"} onClick={() => toggle("new")}>
            New identity
          </button>
        </div>
        {open === "key" ? (
          <div className="identity__reveal">
            <code className="identity__key" aria-label="Your identity key">
              {identity.key}
            </code>
            <button type="button" className="button" onClick={() => void copy("key", identity.key)}>
              {copied === "key" ? "Copied" : "Copy key"}
            </button>
            <p className="identity__warning">Anyone who has this key can appear as you. Keep it like a password.</p>
          </div>
        ) : null}
        {open === "export" ? (
          <div className="identity__reveal">
            <label htmlFor={`${id}-export`}>Paste this into “Import” in your other browser:</label>
            <textarea
              id={`${id}-export`}
              className="identity__text"
              readOnly
              rows={2}
              value={exportText(identity)}
              onFocus={(event) => event.target.select()}
            />
            <button type="button" className="button" onClick={() => void copy("export", exportText(identity))}>
              {copied === "export" ? "Copied" : "Copy"}
            </button>
            <p className="identity__warning">Anyone who has this text can appear as you.</p>
          </div>
        ) : null}
        {open === "import" ? (
          <div className="identity__reveal">
            <label htmlFor={`${id}-import`}>Paste an exported identity:</label>
            <textarea
              id={`${id}-import`}
              className="identity__text"
              rows={2}
              value={pasted}
              spellCheck={false}
              autoCapitalize="none"
              aria-invalid={importProblem ? true : undefined}
              aria-describedby={importProblem ? `${id}-import-error` : undefined}
              onChange={(event) => {
                setPasted(event.target.value);
                setImportProblem(null);
              }}
            />
            {importProblem ? (
              <p id={`${id}-import-error`} className="field__error" role="alert">
                {importProblem}
              </p>
            ) : null}
            <button type="button" className="button button--primary" disabled={switching} onClick={onImport}>
              {switching ? "Switching…" : "Use this identity"}
            </button>
            <p className="identity__note">
              Your rooms are left and joined again as that person. Your current identity is gone from this browser
              unless you exported it.
            </p>
          </div>
        ) : null}
        {open === "new" ? (
          <div className="identity__reveal">
            <p className="identity__note">
              You will appear as a new person, with a new badge and colour. Your current identity is gone from this
              browser unless you exported it.
            </p>
            <button type="button" className="button button--danger" disabled={switching} onClick={() => void become(randomIdentity())}>
              {switching ? "Switching…" : "Make a new identity"}
            </button>
          </div>
        ) : null}
      </div>
    </details>
  );
}
