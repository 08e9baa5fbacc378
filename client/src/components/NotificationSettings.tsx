import { useId, useState } from "react";

import {
  askPermission,
  chime,
  notifyLevel,
  permission,
  setNotifyLevel,
  type NotifyLevel,
  type Permission,
} from "../chat/notifications";

const LABELS: Record<NotifyLevel, string> = {
  all: "Every message",
  mentions: "Mentions of me and whispers",
  none: "Nothing",
};

/** Per room: what deserves a notification while you look elsewhere, and whether
 * the browser may show them on the desktop. */
export function NotificationSettings({ room }: { room: string }) {
  const [level, setLevel] = useState<NotifyLevel>(() => notifyLevel(room));
  const [allowed, setAllowed] = useState<Permission>(permission);
  const name = useId();

  function choose(next: NotifyLevel) {
    setLevel(next);
    setNotifyLevel(room, next);
  }

  return (
    <div className="notify">
      <fieldset className="notify__set">
      <legend className="notify__title">Notify me about</legend>
      {(Object.keys(LABELS) as NotifyLevel[]).map((option) => (
        <label key={option} className="notify__option">
          <input type="radio" name={name} value={option} checked={level === option} onChange={() => choose(option)} />
          <span>{LABELS[option]}</span>
        </label>
      ))}
      {level === "none" ? null : allowed === "default" ? (
        <button
          type="button"
          className="link-button notify__permission"
          onClick={() => {
            chime(); // from a click: the browser lets later tones play
            void askPermission().then(setAllowed);
          }}
        >
          Show them on my desktop
        </button>
      ) : allowed === "denied" ? (
        <p className="notify__note">
          Desktop notifications are blocked in this browser's site settings; the tab's title still counts them.
        </p>
      ) : allowed === "granted" ? (
        <p className="notify__note">Shown on your desktop, with a short tone.</p>
      ) : null}
      </fieldset>
    </div>
  );
}
