/** The nickname is the only thing remembered, in this browser only. */
const NICKNAME_KEY = "chat.nickname";

export function loadNickname(): string {
  try {
    return window.localStorage.getItem(NICKNAME_KEY) ?? "";
  } catch {
    return "";
  }
}

export function saveNickname(nickname: string): void {
  try {
    window.localStorage.setItem(NICKNAME_KEY, nickname);
  } catch {
    // Private mode or storage disabled: the nickname just isn't remembered.
  }
}
