/**
 * Every word the hosted pages show, in one place so a translation replaces one object. Two kinds of
 * text come from elsewhere and are shown as given: the password policy's reason for refusing a
 * password (src/accounts/password-policy.ts) and a service's message about one field (for example
 * "This is already your email address."); the product name comes from BRAND_NAME.
 */

/** "30 seconds", "2 minutes", "3 hours": a wait, rounded up. */
function wait(seconds: number): string {
  if (seconds < 90) return seconds <= 1 ? "1 second" : `${Math.ceil(seconds)} seconds`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `${minutes} minutes`;
  return `${Math.ceil(minutes / 60)} hours`;
}

export const strings = {
  lang: "en",
  skipToContent: "Skip to content",
  contactSupport: "Need help? Contact support",
  signedInAs: (email: string) => `Signed in as ${email}`,
  nav: { signOut: "Sign out", signIn: "Sign in" },
  errorTitlePrefix: "Error: ",
  errorSummary: "There is a problem",
  time: { never: "never", utc: "UTC" },

  fields: {
    identifier: { label: "Email or username", invalid: "Enter your email address or username." },
    email: { label: "Email address", invalid: "Enter a valid email address, like name@example.com." },
    password: { label: "Password", invalid: "Enter your password." },
    full_name: { label: "Full name", invalid: "Enter your name (up to 255 characters, without < or >)." },
    username: {
      label: "Username (optional)",
      hint: "3 to 50 letters, digits, _ or -.",
      invalid: "Use 3 to 50 letters, digits, _ or -; some names (like admin) are reserved.",
    },
    new_password: { label: "New password", invalid: "Enter a new password." },
    current_password: { label: "Current password", invalid: "Enter your current password." },
    new_email: { label: "New email address", invalid: "Enter a valid email address, like name@example.com." },
    registration_password: { label: "The password you chose when you registered" },
    name: { label: "Key name", hint: "What the key is for, e.g. “backup script”.", invalid: "Give the key a name (up to 100 characters)." },
    expires_in_days: { label: "Expires after (days)", invalid: "Enter a number of days." },
    scopes: { legend: "What the key may do", invalid: "Choose at least one." },
    delete_password: { label: "Your password", invalid: "Enter your password." },
  },
  passwordHint: (min: number) => `At least ${min} characters. A long phrase is easy to remember; avoid common passwords and your name.`,
  scopeLabels: {
    "profile:read": "Read your profile",
    "profile:write": "Change your name and username",
    "security_events:read": "Read your security log",
  } as Record<string, string>,

  login: {
    title: "Sign in",
    submit: "Sign in",
    forgot: "Forgot your password?",
    register: "Create an account",
    invalid: "The email, username or password is incorrect.",
    locked: (seconds: number) =>
      `Too many failed attempts: signing in to this account is paused. Try again in ${wait(seconds)}, or reset your password.`,
    lockedHard: "This account is locked after too many failed attempts. Reset your password to unlock it.",
    notVerified: "Confirm your email address before signing in: open the link we sent you, or ask for a new one below.",
  },
  register: {
    title: "Create an account",
    submit: "Create account",
    haveAccount: "Already have an account? Sign in",
    emailTaken: "This address already has an account. Sign in, or reset your password.",
    usernameTaken: "This username is taken. Choose another, or leave it empty.",
  },
  forgot: {
    title: "Reset your password",
    intro: "Enter the address of your account and we will mail you a link to choose a new password.",
    submit: "Send reset link",
    back: "Back to sign in",
  },
  reset: {
    title: "Choose a new password",
    intro: "After the change every session of your account is signed out; then sign in with the new password.",
    submit: "Set new password",
    missing: "This link is incomplete. Open the whole link from the message, or ask for a new one.",
    requestNew: "Ask for a new link",
  },
  verify: {
    title: "Confirm your email address",
    changeTitle: "Confirm your new email address",
    address: (email: string) => `Address: ${email}`,
    intro: "To confirm this address, enter the password chosen when the account was registered.",
    signedIn: "You are signed in to this account: confirming needs nothing more.",
    changeIntro: "Your account will use this address from now on. Every other session is signed out.",
    submit: "Confirm email address",
    newPasswordHeading: "Did someone else register with your address, or did you forget the password?",
    newPasswordIntro:
      "Set a new password instead. Whoever registered keeps nothing: every session and API key of the account is revoked, and you sign in with the new password.",
    newPasswordSubmit: "Set password and confirm",
    wrongPassword: "This is not the password chosen at registration. Try again, or set a new password below.",
    passwordRequired: "Enter the password chosen at registration, or set a new password below.",
    missing: "This link is incomplete. Open the whole link from the message.",
    resendHeading: "Need a new link?",
    resendSubmit: "Send a new link",
  },
  revert: {
    title: "Restore your email address",
    intro: (email: string) =>
      `This undoes the change of your account's address to ${email}. Every session and API key is revoked, the current password stops working and we mail a link to set a new one to your old address.`,
    introUnknown:
      "This undoes the recent change of your account's email address. Every session and API key is revoked, the current password stops working and we mail a link to set a new one to your old address.",
    submit: "Restore my address",
    missing: "This link is incomplete. Open the whole link from the message.",
  },
  logout: {
    title: "Sign out",
    intro: "Sign out of this browser, or of every device where you are signed in.",
    submit: "Sign out",
    everywhere: "Sign out everywhere",
    signedOut: "You are not signed in.",
  },
  account: {
    title: "Your account",
    contents: "On this page",
    profile: "Profile",
    profileSubmit: "Save profile",
    email: "Email address",
    current: (email: string) => `Current address: ${email}`,
    verified: "verified",
    unverified: "not verified",
    resend: "Send a new confirmation link",
    emailIntro: "We mail a link to the new address; the change takes effect when it is opened.",
    emailSubmit: "Change email address",
    password: "Password",
    passwordIntro: "Your other sessions are signed out when the password changes.",
    passwordSubmit: "Change password",
    sessions: "Sessions",
    thisDevice: "this device",
    sessionDetails: (created: string, lastUsed: string, ip: string | null) =>
      `Signed in ${created} · last active ${lastUsed}${ip ? ` · IP ${ip}` : ""}`,
    unknownDevice: "Unknown device",
    revokeSession: "Sign out",
    revokeSessionLabel: (device: string) => `Sign out ${device}`,
    signOutHere: "Sign out this device",
    signOutEverywhere: "Sign out everywhere",
    devices: "Known devices",
    devicesIntro: "Browsers and apps you signed in from. A known device is never locked out by strangers guessing your password.",
    deviceDetails: (first: string, last: string, ip: string | null) => `First seen ${first} · last seen ${last}${ip ? ` · IP ${ip}` : ""}`,
    forgetDevice: "Forget",
    forgetDeviceLabel: (device: string) => `Forget ${device}`,
    noDevices: "No known devices.",
    apiKeys: "API keys",
    apiKeysIntro: "Keys let scripts read your profile or security log. They cannot change your password, email or sessions.",
    keyDetails: (created: string, expires: string, lastUsed: string) => `Created ${created} · expires ${expires} · last used ${lastUsed}`,
    noKeys: "No API keys.",
    newKey: "Your new API key. Copy it now: it is shown only this once.",
    createKey: "Create key",
    currentPasswordHint: "Needed unless you signed in within the last 5 minutes.",
    revokeKey: "Revoke",
    revokeKeyLabel: (name: string) => `Revoke ${name}`,
    log: "Security log",
    logEmpty: "No events yet.",
    logOlder: "Older events",
    logDetails: (when: string, ip: string | null) => `${when}${ip ? ` · IP ${ip}` : ""}`,
    delete: "Delete account",
    deleteIntro:
      "Deleting your account signs you out everywhere, revokes every API key and erases your name, address and password. It cannot be undone.",
    deleteSubmit: "Delete my account",
    reauthenticate: "Enter your current password to create a key.",
  },
  events: {
    "user.registered": "Account created",
    "login.succeeded": "Signed in",
    "login.failed": "Failed sign-in",
    "login.throttled": "Sign-in attempts refused",
    "account.locked": "Account locked after failed sign-ins",
    "account.unlocked": "Account unlocked",
    logout: "Signed out",
    "logout.all": "Signed out everywhere",
    "refresh_token.reused": "A stolen sign-in was stopped",
    "session.revoked": "Session signed out",
    "password.changed": "Password changed",
    "password.reset_requested": "Password reset requested",
    "password.reset": "Password reset",
    "email.change_requested": "Email change requested",
    "email.changed": "Email address changed",
    "email.change_reverted": "Email change undone",
    "email.verified": "Email address confirmed",
    "device.revoked": "Device forgotten",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "api_key.used_new_ip": "API key used from a new IP address",
    "user.updated": "Profile changed",
    "user.deleted": "Account deleted",
    rate_limited: "Requests refused: too many",
  } as Record<string, string>,

  notices: {
    signed_out: "You are signed out.",
    signed_out_everywhere: "You are signed out on every device.",
    check_inbox: "Check your inbox: we sent a link to confirm your email address.",
    welcome: "Welcome! We sent a link to confirm your email address.",
    reset_sent: "If an account exists for this address, we sent it a link to reset the password. The link works for 15 minutes.",
    password_reset: "Your password was reset and every session was signed out. Sign in with the new password.",
    email_verified: "Your email address is confirmed.",
    verified_new_password: "Your email address is confirmed and your new password is set. Sign in with it.",
    email_changed: "Your email address was changed.",
    email_restored: "Your email address was restored and every session was signed out. We sent it a link to set a new password.",
    verification_sent: "If this address has an account waiting for confirmation, we sent it a new link.",
    account_deleted: "Your account was deleted.",
    profile_saved: "Your profile was saved.",
    email_change_sent: "We sent a link to the new address; the change takes effect when it is opened.",
    password_changed: "Your password was changed and your other sessions were signed out.",
    session_revoked: "That session was signed out.",
    device_forgotten: "That device was forgotten.",
    api_key_revoked: "The API key was revoked.",
  },

  errors: {
    invalidLink: "This link is invalid, has expired or was already used.",
    rateLimited: (seconds: number) => `Too many attempts from here. Try again in ${wait(seconds)}.`,
    emailTaken: "This address already belongs to another account.",
    usernameTaken: "This username is taken.",
    currentPassword: "The current password is incorrect.",
    accountLocked: (seconds: number | null) =>
      seconds === null
        ? "Too many wrong passwords. Reset your password to continue."
        : `Too many wrong passwords. Try again in ${wait(seconds)}.`,
    notFound: "There is nothing here any more.",
    generic: "This could not be done. Check the form and try again.",
    csrfTitle: "Request refused",
    csrf: "This form was refused: it came from another site, or the page was open too long. Go back, reload the page and try again.",
    serverTitle: "Something went wrong",
    server: "Something went wrong on our side. Try again in a moment.",
    unavailable: "The service is briefly unavailable. Try again in a moment.",
    tooLarge: "The form was too large.",
    back: "Go to the sign-in page",
  },
} as const;

export type NoticeKey = keyof typeof strings.notices;

export function isNoticeKey(value: string | undefined): value is NoticeKey {
  return value !== undefined && Object.hasOwn(strings.notices, value);
}
