import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from "react";

import { useChatTools } from "../chat/ChatProvider";
import { noticeText, untilText } from "../chat/moderation";
import type { AuditLog, Knock, Report, Role, RoomInfo } from "../chat/protocol";

const SLOW_CHOICES = [0, 5, 10, 30, 60, 300];

/** A setting shown as chosen at once, and as the server has it once it answers. */
function useServerValue<T>(value: T): [T, (next: T) => void] {
  const [choice, setChoice] = useState({ server: value, shown: value });
  // A new value from the server replaces the choice (adjusted while rendering).
  if (!Object.is(choice.server, value)) setChoice({ server: value, shown: value });
  const shown = Object.is(choice.server, value) ? choice.shown : value;
  return [shown, (next: T) => setChoice({ server: value, shown: next })];
}

function timeOf(at: number): string {
  return new Date(at).toLocaleString([], { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

/**
 * The room's moderation in one place, for its owner and moderators: its settings
 * (topic, slow mode, lock, listing), who is banned or muted (each undone with one
 * click), and the audit log of who did what. Loaded only when opened.
 */
export function ModerationPanel({
  room,
  info,
  myRole,
  openings,
  knocks,
  reports,
  onClose,
}: {
  room: string;
  info: RoomInfo;
  myRole: Role;
  /** How often it was asked to open: each time, the focus goes to its heading. */
  openings: number;
  /** Waiting knocks and reports, kept current by the room's events. */
  knocks: Knock[];
  reports: Report[];
  onClose: () => void;
}) {
  const { actions } = useChatTools();
  const [log, setLog] = useState<AuditLog | null>(null);
  const [topic, setTopic] = useState(info.topic);
  const heading = useRef<HTMLHeadingElement>(null);
  const topicId = useId();
  const slowId = useId();
  const owner = myRole === "owner" || myRole === "server_moderator";
  const [locked, setLocked] = useServerValue(info.locked);
  const [listed, setListed] = useServerValue(info.listed);
  const [slow, setSlow] = useServerValue(info.slow_seconds);
  const [raid, setRaid] = useServerValue(info.raid_mode);

  /** Reads the log again; afterwards, if what had the focus is gone with what it
   * answered (a knock, a report), the focus comes back to the heading. */
  const reload = useCallback(() => {
    void actions.auditLog(room).then((loaded) => {
      setLog(loaded);
      window.setTimeout(() => {
        if (document.activeElement === document.body) heading.current?.focus();
      });
    });
  }, [actions, room]);

  useEffect(() => {
    heading.current?.focus();
  }, [openings]);
  // Every change to the room (ours or another moderator's) brings a new room_info;
  // knocks and reports come as events.
  useEffect(reload, [reload, info, knocks.length, reports.length]);

  /** After a change the log is read again; a refused one puts the server's
   * values back (its refusal shows in the composer). */
  function change(run: Promise<boolean>) {
    void run.then((ok) => {
      if (!ok) {
        setLocked(info.locked);
        setListed(info.listed);
        setSlow(info.slow_seconds);
        setRaid(info.raid_mode);
      }
      reload();
    });
  }

  /** One click on a report: its author muted or banned for `minutes`, the report done. */
  function settle(report: Report, event: "mute" | "ban", minutes: number) {
    const acted = actions.moderate(room, event, { name: report.author, minutes });
    change(acted.then(() => actions.resolveReport(room, report.id)));
  }

  function saveTopic(event: FormEvent) {
    event.preventDefault();
    change(actions.moderate(room, "topic", { topic }));
  }

  return (
    <section
      className="moderation"
      aria-labelledby="moderation-title"
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onClose();
        }
      }}
    >
      <div className="moderation__head">
        <h3 id="moderation-title" ref={heading} tabIndex={-1} className="moderation__title">
          Moderation of #{room}
        </h3>
        <button type="button" className="button button--icon" aria-label="Close moderation" onClick={onClose}>
          ×
        </button>
      </div>
      {knocks.length > 0 ? (
        <>
          <h4 className="moderation__subtitle">Knocking</h4>
          <ul className="moderation__list">
            {knocks.map((knock) => (
              <li key={knock.id}>
                <span dir="auto">{knock.username}</span>
                {knock.trip ? null : " (unverified)"}{" "}
                <button type="button" className="link-button" onClick={() => change(actions.answerKnock(room, knock.id, true))}>
                  Let in
                </button>{" "}
                <button type="button" className="link-button" onClick={() => change(actions.answerKnock(room, knock.id, false))}>
                  Turn away
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {reports.length > 0 ? (
        <>
          <h4 className="moderation__subtitle">Reports</h4>
          <ul className="moderation__list moderation__reports">
            {reports.map((report) => (
              <li key={report.id}>
                <span>
                  {report.reporter} reported {report.author}
                  {report.reason ? `: “${report.reason}”` : ""}
                </span>
                <blockquote dir="auto">{report.snippet}</blockquote>
                <span className="moderation__report-actions">
                  <button type="button" className="link-button" onClick={() => actions.jumpTo(room, report.message_id)}>
                    Show
                  </button>
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => settle(report, "mute", 10)}
                  >
                    Mute 10 min
                  </button>
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => settle(report, "ban", 60)}
                  >
                    Ban 1 h
                  </button>
                  <button type="button" className="link-button" onClick={() => change(actions.resolveReport(room, report.id))}>
                    Dismiss
                  </button>
                </span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <form className="moderation__topic" onSubmit={saveTopic}>
        <label htmlFor={topicId}>Topic</label>
        <input id={topicId} value={topic} maxLength={200} dir="auto" onChange={(event) => setTopic(event.target.value)} />
        <button type="submit" className="button" disabled={topic.trim() === info.topic}>
          Save
        </button>
      </form>
      <div className="moderation__settings">
        <label htmlFor={slowId}>Slow mode</label>
        <select
          id={slowId}
          value={slow}
          onChange={(event) => {
            setSlow(Number(event.target.value));
            change(actions.moderate(room, "slow_mode", { seconds: Number(event.target.value) }));
          }}
        >
          {[...new Set([...SLOW_CHOICES, info.slow_seconds])].sort((a, b) => a - b).map((seconds) => (
            <option key={seconds} value={seconds}>
              {seconds === 0 ? "Off" : `One message every ${seconds} s`}
            </option>
          ))}
        </select>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={locked}
            onChange={(event) => {
              setLocked(event.target.checked);
              change(actions.moderate(room, "lock", { locked: event.target.checked }));
            }}
          />
          Locked: only people here now (and moderators) can come back in
        </label>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={listed}
            disabled={!owner}
            onChange={(event) => {
              setListed(event.target.checked);
              change(actions.moderate(room, "list_room", { listed: event.target.checked }));
            }}
          />
          Listed in the lobby{owner ? "" : " (the owner decides)"}
        </label>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={raid}
            onChange={(event) => {
              setRaid(event.target.checked);
              change(actions.moderate(room, "raid_mode", { on: event.target.checked }));
            }}
          />
          Raid mode: newcomers prove their device is a person&apos;s, then start on probation
        </label>
      </div>
      <h4 className="moderation__subtitle">Kept out</h4>
      {log && log.bans.length > 0 ? (
        <ul className="moderation__list">
          {log.bans.map((ban) => (
            <li key={`${ban.username}-${ban.until}`}>
              <span dir="auto">{ban.username}</span> {ban.kind === "kick" ? "kicked" : "banned"} by {ban.by}{" "}
              {untilText(ban.until)}{" "}
              <button
                type="button"
                className="link-button"
                onClick={() => change(actions.moderate(room, "unban", { name: ban.username }))}
              >
                Let back in
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="moderation__empty">{log ? "Nobody is banned or kicked." : "Loading…"}</p>
      )}
      <h4 className="moderation__subtitle">Muted</h4>
      {log && log.mutes.length > 0 ? (
        <ul className="moderation__list">
          {log.mutes.map((mute) => (
            <li key={`${mute.username}-${mute.until}`}>
              <span dir="auto">{mute.username}</span> by {mute.by} {untilText(mute.until)}{" "}
              <button
                type="button"
                className="link-button"
                onClick={() => change(actions.moderate(room, "mute", { name: mute.username, minutes: 0 }))}
              >
                Unmute
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="moderation__empty">{log ? "Nobody is muted." : "Loading…"}</p>
      )}
      <h4 className="moderation__subtitle">Audit log</h4>
      {log && log.entries.length > 0 ? (
        <ol className="moderation__log">
          {log.entries.map((entry, index) => (
            <li key={`${entry.at}-${index}`}>
              <time dateTime={new Date(entry.at).toISOString()}>{timeOf(entry.at)}</time> {noticeText(entry)}
            </li>
          ))}
        </ol>
      ) : (
        <p className="moderation__empty">{log ? "Nothing yet." : "Loading…"}</p>
      )}
    </section>
  );
}
