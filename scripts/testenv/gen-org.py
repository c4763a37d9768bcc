#!/usr/bin/env python3
"""Generates a test organisation as LDIF, deterministically, plus a JSON manifest for tests.

    gen-org.py --size small|10k|100k [--seed S] [--out org.ldif] [--manifest org.json]
    gen-org.py --people N --groups G [--bulk B] [--seed S] [--base-dn DN] [--with-base] ...

Same arguments and seed => byte-identical LDIF and manifest. Sizes: small = 60 people / 16 groups
(tests, demo), 10k = 10,000 / 500, 100k = 100,000 / 5,000 (benchmarks; ~5 s here).

WHAT IT GENERATES (base dc=example,dc=org unless --base-dn):
  ou=people          people: inetOrgPerson + posixAccount + shadowAccount (uid RDN), some plain
                     inetOrgPerson without uidNumber/gidNumber, some without mail/displayName/
                     givenName; one person with two mail and two cn values.
    ou=contractors   people whose RDN is cn, not uid (a case-only twin uid, a Unicode DN).
  ou=partners        one person outside ou=people (an out-of-scope member).
  ou=groups          plain groupOfNames groups, member = DN; nesting; a cycle.       style "groupOfNames"
  ou=bis             the same logical groups as groupOfNames + posixGroupAux           style "rfc2307bis"
                     (gidNumber): rfc2307bis-style (see slapd.sh for the aux class).
  ou=posix           the same logical groups as RFC 2307 posixGroup, memberUid = uid;  style "rfc2307"
                     no nesting exists in RFC 2307, so each posix group lists the
                     uids of its *effective* (flattened) people.
  ou=bulk            --bulk N extra people bulk00001.. and cn=bulk-all (all of them):
                     paging and size-limit tests (>500 entries, a >500-value group).

  Logical groups (present in all three styles, same cn, same effective people):
    jupyter-users     (hub access; contains the nested group jupyter-interns)
    jupyter-interns   (nested inside jupyter-users)
    jupyter-admins    (hub admins; includes one disabled person)
    data-science      (team)
    ml-platform       (project; contains data-science as a nested group)
    finance-analytics (project; includes the escaped-comma DN and a Unicode DN person)
    all-staff         (everyone in ou=people)
    cycle-a, cycle-b  (cycle-a -> cycle-b -> cycle-a), cycle-entry (-> cycle-a)
    team-0001..       (filler up to --groups; 1-4 memberships per person, skewed sizes)
  Style-specific: ou=groups/ou=bis "odd-members" has a dangling member DN (uid=ghost, does not
  exist) and an out-of-scope member (ou=partners); ou=posix "odd-members" has memberUid ghost;
  ou=posix "empty-group" has no memberUid at all (groupOfNames requires a member).

  Disabled people (~6%): half pwdAccountLockedTime: 000001010000Z (ppolicy schema: slapd.sh
  loads the ppolicy module), half shadowExpire: 1 (1970-01-02). One active person has
  shadowExpire: 99999 (year 2243) and is NOT disabled. --no-ppolicy uses shadowExpire for all.

  Awkward cases (also listed in the manifest's "awkward"): uppercase uid (KWALSH), dots
  (anna.maria.lopez), underscores (data_bot_01), apostrophe (o'neil), Unicode cn/displayName/sn
  (base64 in LDIF), a Unicode DN (cn=Łukasz Żółw, dn:: base64), two 70+ character uids sharing
  their first 60 characters, uids differing only by case (casey / Casey: uid is case-insensitive
  in LDAP, so one lives at cn=Casey Upper,ou=contractors), a DN with an escaped comma
  (cn=Doe\\, John), leading/trailing spaces in cn/sn/displayName values (base64), member values
  differing from the target DN in case ("UID=...,OU=People,DC=Example,DC=Org"), in spacing
  ("uid=x, ou=people, dc=example, dc=org") and in escaping (cn=Doe\\2C John). Note: slapd
  stores DN values in its "pretty" form, so a search returns the spacing variants without the
  spaces and attribute types in lower case; value case and the \\2C escape are kept as written.

IDENTIFIERS: with --entry-uuid every entry carries entryUUID = uuid5(6f1c2a4e-4b7d-5d0e-9c1a-
  acce55a11c0d, "<seed>|<dn>") (slapd.sh loads it that way: slapadd, or ldapadd -e relax as
  rootdn), so identifiers are stable across runs and listed in the manifest; without it slapd
  assigns random entryUUIDs and the manifest's entryUUID fields are null.

MANIFEST (--manifest FILE, JSON, "format": 1): params; base_dn; ous; people [{dn, uid, entryUUID, cn [..],
  sn, givenName, displayName, mail [..], uidNumber, gidNumber (null when absent), posix, disabled,
  disabled_by ("pwdAccountLockedTime"|"shadowExpire"|null), tags [..]}] (ou=people and
  ou=partners; bulk people are summarised under "bulk"); groups [{dn, cn, style ("groupOfNames"|
  "rfc2307bis"|"rfc2307"), logical, gidNumber, members [target DNs as generated, direct, people
  and groups], member_values [exactly as written], member_uids [posix], dangling [..], entryUUID,
  out_of_scope [..]}]; logical_groups {cn: {effective_people [DNs, transitive, ou=people only,
  disabled included], effective_uids, nested [cn..], in_cycle}}; cycles [{style, path [DN..]}];
  awkward [{case, dn, uid, note}]; policy_groups; bulk {base, count, uid_format, group}.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import uuid
import sys

PRESETS = {
    "small": dict(people=60, groups=16),
    "10k": dict(people=10_000, groups=500),
    "100k": dict(people=100_000, groups=5_000),
}

FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
         "yolanda", "amir", "bea", "chen", "dara", "emeka", "fatima", "goran", "hana", "ines",
         "jonas", "kofi", "lena", "mateo", "nora", "oskar", "priya", "quinn", "rosa", "sven",
         "tariq"]
LAST = ["smith", "jones", "garcia", "miller", "davis", "martin", "nguyen", "kim", "patel",
        "schmidt", "rossi", "dubois", "silva", "kowalski", "novak", "berg", "haddad", "tanaka",
        "okafor", "ivanova", "larsen", "moreau", "costa", "weber", "fischer", "romero", "yilmaz",
        "hughes", "murphy", "walsh", "lopez", "khan", "ali", "sato", "lee", "brown", "wilson",
        "young", "hill", "stone"]

# Namespace for deterministic entryUUIDs (--entry-uuid): uuid5(UUID_NS, "<seed>|<dn>").
UUID_NS = uuid.UUID("6f1c2a4e-4b7d-5d0e-9c1a-acce55a11c0d")
POLICY_GROUPS = ["jupyter-users", "jupyter-admins", "data-science", "ml-platform",
                 "finance-analytics"]
STYLES = [("groups", "groupOfNames"), ("bis", "rfc2307bis"), ("posix", "rfc2307")]

# RFC 2849 SAFE-STRING: no NUL/LF/CR, ASCII only, not starting with space, ':' or '<'. We also
# base64 a value with a trailing space, which many LDIF readers would strip.
_SAFE_STRING = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b\x0c\x0e-\x7f]*")


def ldif_line(attr: str, value: str) -> str:
    """One attribute line; base64 when RFC 2849 requires it (or for a trailing space)."""
    if (value.isascii() and value.isalnum()) or value == "" or (_SAFE_STRING.fullmatch(value) and value[-1] != " "):
        return f"{attr}: {value}\n"
    return f"{attr}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}\n"


def escape_rdn_value(v: str) -> str:
    """RFC 4514 escaping for an RDN value."""
    if v.isalnum() and v.isascii():
        return v
    out = []
    for i, ch in enumerate(v):
        if ch in ',+"\\<>;=' or (ch == "#" and i == 0) or (ch == " " and (i == 0 or i == len(v) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


class Org:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.rng = random.Random(a.seed)
        self.base = a.base_dn
        self.people: list[dict] = []        # ou=people (+ contractors) and partners
        self.by_key: dict[str, dict] = {}   # key -> person
        self.logical: dict[str, dict] = {}  # cn -> {"people": [keys], "groups": [cn], ...}
        self.awkward: list[dict] = []
        self.out: list[str] = []

    # ---------------------------------------------------------------- people
    def dn(self, rdn: str, ou: str) -> str:
        return f"{rdn},{ou},{self.base}"

    def add_person(self, key: str, uid: str, *, rdn: str | None = None, ou: str = "ou=people",
                   cn: list[str] | None = None, sn: str | None = None, given: str | None = None,
                   display: str | None = None, mail: list[str] | None = None, posix: bool = True,
                   tags: list[str] | None = None) -> dict:
        n = len(self.people)
        first = given if given is not None else uid
        p = {
            "key": key,
            "index": n,
            "uid": uid,
            "dn": self.dn(rdn or f"uid={escape_rdn_value(uid)}", ou),
            "cn": cn or [f"{first.title()} {(sn or 'Person').title()}"],
            "sn": sn if sn is not None else "Person",
            "givenName": given,
            "displayName": display,
            "mail": mail if mail is not None else [f"{uid.lower()}@example.org"],
            "uidNumber": 10000 + n if posix else None,
            "gidNumber": (100 if n % 5 else 10000 + n) if posix else None,
            "posix": posix,
            "disabled": False,
            "disabled_by": None,
            "shadowExpire": None,
            "tags": tags or [],
        }
        self.people.append(p)
        self.by_key[key] = p
        return p

    def make_people(self):
        a, rng = self.a, self.rng
        # Awkward people first: fixed, so tests can name them whatever the size.
        aw = self.awkward

        def awk(case, p, note):
            p["tags"].append("awkward:" + case)
            aw.append({"case": case, "dn": p["dn"], "uid": p["uid"], "note": note})

        awk("uppercase-uid", self.add_person("kwalsh", "KWALSH", given="kevin", sn="walsh"),
            "uid in capitals; hub usernames are lowercased")
        awk("dots", self.add_person("anna", "anna.maria.lopez", given="anna", sn="lopez",
                                     display="Anna María López"), "dots in uid; Unicode displayName")
        awk("underscore", self.add_person("bot", "data_bot_01", given="data", sn="bot", mail=[]),
            "underscore in uid; no mail")
        awk("apostrophe", self.add_person("oneil", "o'neil", given="siobhan", sn="O'Neil"),
            "apostrophe in uid")
        awk("unicode", self.add_person("zoe", "zangstrom", given="Zoë", sn="Ångström",
                                        cn=["Zoë Ångström"], display="Zoë Ångström (Data)"),
            "Unicode cn/sn/displayName/givenName (base64 in LDIF)")
        awk("unicode-dn", self.add_person("lukasz", "lzolw", rdn="cn=Łukasz Żółw", ou="ou=contractors,ou=people",
                                           given="Łukasz", sn="Żółw", cn=["Łukasz Żółw"]),
            "Unicode in the DN itself (dn:: base64); RDN is cn, not uid")
        long1 = "a-very-long-user-name-that-goes-on-and-on-well-past-kubespawners-limit-01"
        long2 = long1[:-2] + "02"
        awk("long-uid", self.add_person("long1", long1, given="long", sn="one"), f"{len(long1)} characters")
        awk("long-uid", self.add_person("long2", long2, given="long", sn="two"),
            f"{len(long2)} characters; same first {len(long1) - 2} characters as the other long uid")
        awk("case-twin", self.add_person("casey", "casey", given="casey", sn="lower"),
            "uid differs only by case from 'Casey' (uid matching is case-insensitive)")
        awk("case-twin", self.add_person("Casey", "Casey", rdn="cn=Casey Upper", ou="ou=contractors,ou=people",
                                          given="casey", sn="upper", cn=["Casey Upper"],
                                          mail=["casey.upper@example.org"]),
            "uid differs only by case from 'casey'; lives at a cn RDN since uid=Casey == uid=casey")
        awk("escaped-comma", self.add_person("jdoe", "jdoe", rdn=f"cn={escape_rdn_value('Doe, John')}",
                                              given="john", sn="Doe", cn=["Doe, John"]),
            "comma in the RDN value: cn=Doe\\, John")
        awk("spaces", self.add_person("spacey", "spacey", given=" Lead", sn="Trail ",
                                       cn=[" Leading Space", "Trailing Space "], display=" Both Ends "),
            "leading/trailing spaces in cn, sn, givenName, displayName (base64 in LDIF)")
        awk("multi-valued", self.add_person("multi", "multi", given="mul", sn="tee",
                                             cn=["Mul Tee", "Multi Valued"],
                                             mail=["multi@example.org", "m.tee@example.org"]),
            "two cn and two mail values")
        awk("no-posix", self.add_person("nopx", "nopx", given="no", sn="posix", posix=False),
            "inetOrgPerson only: no uidNumber/gidNumber/homeDirectory")
        awk("missing-optional", self.add_person("bare", "bare", given=None, sn="bare", mail=[]),
            "no givenName, displayName or mail")

        fixed = len(self.people)
        if a.people < fixed + 5:
            raise SystemExit(f"--people must be at least {fixed + 5}")
        seen = {p["uid"].lower() for p in self.people}
        next_suffix: dict[str, int] = {}
        for i in range(a.people - fixed):
            f, l = rng.choice(FIRST), rng.choice(LAST)
            base_uid = f[0] + l
            k = next_suffix.get(base_uid, 1)
            uid = base_uid if k == 1 else f"{base_uid}{k}"
            while uid in seen:
                k += 1
                uid = f"{base_uid}{k}"
            next_suffix[base_uid] = k + 1
            seen.add(uid)
            r = rng.random()
            p = self.add_person(
                uid, uid, given=f, sn=l,
                display=(f"{f.title()} {l.title()}" if r < 0.8 else None),
                mail=([f"{f}.{l}{'' if k == 1 else k}@example.org"] if r < 0.93 else []),
                posix=(r < 0.97),
            )
            if p["givenName"] and r > 0.9:
                p["givenName"] = None
        # Disabled: ~6% of the generated people, alternating the two mechanisms.
        gen = self.people[fixed:]
        n_dis = max(4, len(gen) * 6 // 100)
        for j, p in enumerate(rng.sample(gen, n_dis)):
            p["disabled"] = True
            if j % 2 == 0 and not a.no_ppolicy:
                p["disabled_by"] = "pwdAccountLockedTime"
            else:
                p["disabled_by"] = "shadowExpire"
                p["shadowExpire"] = 1
                if not p["posix"]:
                    p["posix"] = True
                    p["uidNumber"] = 10000 + p["index"]
                    p["gidNumber"] = 100
        # An active person with a far-future shadowExpire: NOT disabled.
        for p in gen:
            if not p["disabled"] and p["posix"]:
                p["shadowExpire"] = 99999
                p["tags"].append("future-shadowExpire")
                aw.append({"case": "future-expiry", "dn": p["dn"], "uid": p["uid"],
                           "note": "shadowExpire 99999 (year 2243): active"})
                break
        # Out of scope (not under ou=people).
        partner = self.add_person("partner1", "partner1", ou="ou=partners", given="pat", sn="partner")
        awk("out-of-scope", partner, "person under ou=partners, member of odd-members")

    # ---------------------------------------------------------------- groups
    def make_groups(self):
        a, rng = self.a, self.rng
        people = [p for p in self.people if p["key"] != "partner1"]
        keys = [p["key"] for p in people]
        gen_keys = keys[15:]   # generated (non-awkward) people
        active = [p["key"] for p in people if not p["disabled"]]
        disabled = [p["key"] for p in people if p["disabled"]]
        small = a.people <= 1000

        def lg(cn, people_keys=(), groups=(), **extra):
            self.logical[cn] = {"people": list(dict.fromkeys(people_keys)), "groups": list(groups), **extra}

        # Nested first (member groups before the groups that contain them).
        interns = rng.sample(gen_keys, max(3, len(gen_keys) // 20))
        lg("jupyter-interns", interns + ["bot"])
        users_frac = 0.7 if small else 0.2
        interns_set = set(interns)
        pool = [k for k in gen_keys if k not in interns_set]
        users = rng.sample(pool, int(len(pool) * users_frac))
        users += ["kwalsh", "anna", "oneil", "zoe", "lukasz", "long1", "long2", "casey", "Casey",
                  "jdoe", "spacey", "multi", "nopx", "bare"]
        users += disabled[:2]
        lg("jupyter-users", users, ["jupyter-interns"])
        gen_set, disabled_set = set(gen_keys), set(disabled)
        admins = [k for k in users[:50] if k in gen_set and k not in disabled_set][:2] + disabled[:1]
        lg("jupyter-admins", admins)
        ds = rng.sample(users, min(len(users), 12 if small else max(12, a.people // 100)))
        lg("data-science", ds + ["zoe", "long1"])
        lg("ml-platform", rng.sample(users, 3) + ["kwalsh"], ["data-science"])
        fin = rng.sample(users, min(len(users), 8 if small else max(8, a.people // 200)))
        lg("finance-analytics", fin + ["jdoe", "lukasz", "anna"])
        lg("all-staff", keys)
        # The cycle: cycle-a -> cycle-b -> cycle-a, entered from cycle-entry.
        lg("cycle-b", rng.sample(gen_keys, 2), ["cycle-a"], in_cycle=True)
        lg("cycle-a", rng.sample(gen_keys, 2), ["cycle-b"], in_cycle=True)
        lg("cycle-entry", rng.sample(gen_keys, 1), ["cycle-a"])
        # Filler teams: 1-4 memberships per generated person, skewed sizes.
        n_named = len(self.logical) + 1   # + odd-members
        n_teams = max(0, a.groups - n_named)
        teams = [[] for _ in range(n_teams)]
        if n_teams:
            cum, acc = [], 0.0
            for i in range(n_teams):
                acc += 1.0 / (i + 1) ** 0.6
                cum.append(acc)
            team_ids = range(n_teams)
            for k in gen_keys:
                for t in set(rng.choices(team_ids, cum_weights=cum, k=rng.randint(1, 4))):
                    teams[t].append(k)
            for i, members in enumerate(teams):
                if not members:
                    members.append(rng.choice(gen_keys))
                lg(f"team-{i + 1:04d}", members)
        # Style-specific oddities (not "logical": their content differs by style).
        self.odd_people = rng.sample(gen_keys, 2)

    def effective(self):
        """Transitive people (keys) per logical group; detects the cycle."""
        memo: dict[str, set] = {}

        def walk(cn, stack):
            if cn in memo:
                return memo[cn]
            if cn in stack:
                return set()
            stack = stack + [cn]
            s = set(self.logical[cn]["people"])
            for g in self.logical[cn]["groups"]:
                s |= walk(g, stack)
            return s
        for cn in self.logical:
            # No memo inside cycles (a partial set would be cached); graph is small there.
            memo_ok = not self.logical[cn].get("in_cycle")
            s = walk(cn, [])
            if memo_ok:
                memo[cn] = s
        return {cn: walk(cn, []) for cn in self.logical}

    # ---------------------------------------------------------------- output
    def uuid_for(self, dn: str) -> str:
        return str(uuid.uuid5(UUID_NS, f"{self.a.seed}|{dn}"))

    def emit(self, s: str):
        if self.a.entry_uuid and s.startswith("dn"):
            first, rest = s.split("\n", 1)
            dn = base64.b64decode(first[5:]).decode("utf-8") if first.startswith("dn:: ") else first[4:]
            s = f"{first}\nentryUUID: {self.uuid_for(dn)}\n{rest}"
        self.out.append(s)

    def entry_dn(self, dn: str):
        self.emit(ldif_line("dn", dn))

    def sorted_uids(self, keys) -> list[str]:
        """uids sorted case-insensitively (ties: exact), memoised per set of people."""
        memo = self.__dict__.setdefault("_uid_memo", {})
        ident = id(keys)
        if ident not in memo:
            memo[ident] = (keys, sorted((self.by_key[k]["uid"] for k in keys), key=lambda u: (u.lower(), u)))
        return memo[ident][1]

    def write_people(self):
        for p in self.people:
            if not p["tags"] and p["posix"] and p["givenName"] and p["displayName"] and len(p["mail"]) == 1 \
                    and p["shadowExpire"] is None and p["disabled_by"] is None:
                # Generated people: ASCII letters and digits only, so no base64 check is needed.
                self.emit(f"dn: {p['dn']}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"
                          f"objectClass: shadowAccount\nuid: {p['uid']}\ncn: {p['cn'][0]}\nsn: {p['sn']}\n"
                          f"givenName: {p['givenName']}\ndisplayName: {p['displayName']}\nmail: {p['mail'][0]}\n"
                          f"uidNumber: {p['uidNumber']}\ngidNumber: {p['gidNumber']}\n"
                          f"homeDirectory: /home/{p['uid']}\nloginShell: /bin/bash\n\n")
                continue
            lines = [ldif_line("dn", p["dn"]), "objectClass: inetOrgPerson\n"]
            if p["posix"]:
                lines += ["objectClass: posixAccount\n", "objectClass: shadowAccount\n"]
            lines.append(ldif_line("uid", p["uid"]))
            lines += [ldif_line("cn", c) for c in p["cn"]]
            lines.append(ldif_line("sn", p["sn"]))
            if p["givenName"]:
                lines.append(ldif_line("givenName", p["givenName"]))
            if p["displayName"]:
                lines.append(ldif_line("displayName", p["displayName"]))
            lines += [ldif_line("mail", m) for m in p["mail"]]
            if p["posix"]:
                lines.append(f"uidNumber: {p['uidNumber']}\ngidNumber: {p['gidNumber']}\n")
                lines.append(ldif_line("homeDirectory", "/home/" + p["uid"].lower()))
                lines.append("loginShell: /bin/bash\n")
                if p["shadowExpire"] is not None:
                    lines.append(f"shadowExpire: {p['shadowExpire']}\n")
            if p["disabled_by"] == "pwdAccountLockedTime":
                lines.append("pwdAccountLockedTime: 000001010000Z\n")
            lines.append("\n")
            self.emit("".join(lines))

    def member_value(self, target_dn: str, i: int, cn: str) -> str:
        """Mostly the DN as generated; some deliberately differ in case, spacing or escaping."""
        if cn == "jupyter-admins" and i == 0 or cn == "data-science" and i % 7 == 3:
            # Case: attribute types and values upper-cased where harmless.
            rdn, rest = target_dn.split(",", 1)
            t, v = rdn.split("=", 1)
            return f"{t.upper()}={v},{rest.replace('ou=people', 'OU=People').replace('dc=example', 'DC=Example').replace('dc=org', 'DC=ORG')}"
        if cn == "jupyter-users" and i % 11 == 5 or cn == "finance-analytics" and i == 1:
            return target_dn.replace(",", ", ") if "\\," not in target_dn else target_dn
        if "\\," in target_dn and cn == "finance-analytics":
            return target_dn.replace("\\,", "\\2C")
        return target_dn

    def write_groups(self, eff):
        a = self.a
        groups_manifest = []
        pk = self.by_key
        ghost = self.dn("uid=ghost", "ou=people")
        partner = self.by_key["partner1"]["dn"]
        mcache: dict[str, str] = {}
        for ou, style in STYLES:
            ou_dn = f"ou={ou},{self.base}"
            gid = {"groups": None, "bis": 20000, "posix": 20000}[ou]
            for gi, (cn, g) in enumerate(list(self.logical.items()) + [("odd-members", None), ("empty-group", None)]):
                if cn == "empty-group" and style != "rfc2307":
                    continue
                dn = f"cn={cn},{ou_dn}"
                rec = {"dn": dn, "cn": cn, "style": style, "ou": ou, "logical": g is not None,
                       "gidNumber": (gid + gi) if gid is not None else None,
                       "members": [], "member_values": [], "member_uids": [],
                       "dangling": [], "out_of_scope": []}
                lines = [ldif_line("dn", dn)]
                if style == "rfc2307":
                    lines.append("objectClass: posixGroup\n")
                else:
                    lines.append("objectClass: groupOfNames\n")
                    if style == "rfc2307bis":
                        lines.append("objectClass: posixGroupAux\n")
                lines.append(f"cn: {cn}\n")
                if rec["gidNumber"] is not None:
                    lines.append(f"gidNumber: {rec['gidNumber']}\n")
                if style == "rfc2307":
                    if cn == "odd-members":
                        uids = [pk[k]["uid"] for k in self.odd_people] + ["ghost"]
                        rec["dangling"] = ["ghost"]
                    elif cn == "empty-group":
                        uids = []
                    else:
                        # Flattened: RFC 2307 cannot nest.
                        uids = self.sorted_uids(eff[cn])
                    rec["member_uids"] = uids
                    lines += [ldif_line("memberUid", u) for u in uids]
                else:
                    targets = []
                    if g is None:   # odd-members
                        targets = [pk[k]["dn"] for k in self.odd_people] + [ghost, partner]
                        rec["dangling"] = [ghost]
                        rec["out_of_scope"] = [partner]
                    else:
                        targets = [pk[k]["dn"] for k in g["people"]]
                        targets += [f"cn={sub},{ou_dn}" for sub in g["groups"]]
                    special = cn in ("jupyter-admins", "data-science", "jupyter-users", "finance-analytics")
                    for i, t in enumerate(targets):
                        v = self.member_value(t, i, cn) if special else t
                        rec["members"].append(t)
                        rec["member_values"].append(v)
                        if v != t:
                            kind = ("member-escape" if "\\2C" in v else
                                    "member-spacing" if ", " in v else "member-case")
                            self.awkward.append({"case": kind, "dn": dn, "uid": None, "value": v, "target": t,
                                                 "note": "member value differs from the target DN"})
                        line = mcache.get(v)
                        if line is None:
                            line = mcache[v] = ldif_line("member", v)
                        lines.append(line)
                lines.append("\n")
                self.emit("".join(lines))
                groups_manifest.append(rec)
        if a.entry_uuid:
            for rec in groups_manifest:
                rec["entryUUID"] = self.uuid_for(rec["dn"])
        return groups_manifest

    def write_bulk(self):
        b = self.a.bulk
        if not b:
            return None
        base = f"ou=bulk,{self.base}"
        members = []
        for i in range(1, b + 1):
            uid = f"bulk{i:05d}"
            dn = f"uid={uid},{base}"
            members.append(dn)
            self.emit(f"dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: {uid}\n"
                      f"cn: Bulk {i}\nsn: Bulk\nmail: {uid}@example.org\nuidNumber: {500000 + i}\n"
                      f"gidNumber: 100\nhomeDirectory: /home/{uid}\n\n")
        self.emit(f"dn: cn=bulk-all,{base}\nobjectClass: groupOfNames\ncn: bulk-all\n"
                  + "".join(f"member: {m}\n" for m in members) + "\n")
        return {"base": base, "count": b, "uid_format": "bulk%05d", "dn_format": f"uid=bulk%05d,{base}",
                "group": f"cn=bulk-all,{base}"}

    def run(self):
        a = self.a
        self.make_people()
        self.make_groups()
        eff = self.effective()
        ous = ["people", "contractors,ou=people", "partners", "groups", "bis", "posix"]
        if a.bulk:
            ous.append("bulk")
        self.emit("version: 1\n\n")
        if a.with_base:
            dc = self.base.split(",")[0].split("=", 1)[1]
            self.emit(f"dn: {self.base}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
                      f"o: Example Org\ndc: {dc}\n\n")
        for ou in ous:
            name = ou.split(",")[0]
            self.emit(f"dn: ou={ou},{self.base}\nobjectClass: organizationalUnit\nou: {name}\n\n")
        self.write_people()
        groups = self.write_groups(eff)
        bulk = self.write_bulk()
        dn_of = {k: p["dn"] for k, p in self.by_key.items()}
        cycles = []
        for ou, style in STYLES:
            if style != "rfc2307":
                cycles.append({"style": style, "path": [f"cn=cycle-a,ou={ou},{self.base}",
                                                        f"cn=cycle-b,ou={ou},{self.base}",
                                                        f"cn=cycle-a,ou={ou},{self.base}"]})
        manifest = {
            "format": 1,
            "generator": "scripts/testenv/gen-org.py",
            "params": {"people": a.people, "groups": a.groups, "seed": a.seed, "bulk": a.bulk,
                       "entry_uuid": a.entry_uuid,
                       "base_dn": self.base, "with_base": a.with_base, "no_ppolicy": a.no_ppolicy},
            "base_dn": self.base,
            "ous": [f"ou={ou},{self.base}" for ou in ous],
            "people": [dict({k: v for k, v in p.items() if k not in ("key", "index")},
                            entryUUID=self.uuid_for(p["dn"]) if a.entry_uuid else None) for p in self.people],
            "groups": groups,
            "logical_groups": {
                cn: {"effective_people": sorted(dn_of[k] for k in eff[cn]),
                     "effective_uids": self.sorted_uids(eff[cn]),
                     "direct_people": [dn_of[k] for k in g["people"]],
                     "nested": g["groups"],
                     "in_cycle": bool(g.get("in_cycle"))}
                for cn, g in self.logical.items()},
            "cycles": cycles,
            "awkward": self.awkward,
            "policy_groups": POLICY_GROUPS,
            "bulk": bulk,
        }
        return "".join(self.out), manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=sorted(PRESETS), help="preset people/groups")
    ap.add_argument("--people", type=int)
    ap.add_argument("--groups", type=int)
    ap.add_argument("--bulk", type=int, default=0, help="extra people under ou=bulk (paging tests)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base-dn", default="dc=example,dc=org")
    ap.add_argument("--with-base", action="store_true", help="also emit the base (dcObject) entry")
    ap.add_argument("--no-ppolicy", action="store_true", help="disable with shadowExpire only")
    ap.add_argument("--entry-uuid", action="store_true",
                    help="emit deterministic entryUUIDs (load with slapadd, or ldapadd -e relax as rootdn)")
    ap.add_argument("--out", default="-", help="LDIF file (default stdout)")
    ap.add_argument("--manifest", help="write the JSON manifest here")
    a = ap.parse_args(argv)
    preset = PRESETS[a.size] if a.size else PRESETS["small"]
    a.people = a.people if a.people is not None else preset["people"]
    a.groups = a.groups if a.groups is not None else preset["groups"]
    ldif, manifest = Org(a).run()
    if a.out == "-":
        sys.stdout.write(ldif)
    else:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(ldif)
    if a.manifest:
        with open(a.manifest, "w", encoding="utf-8") as f:
            # json.dumps without indent uses the C encoder: large manifests in a second.
            f.write(json.dumps(manifest, ensure_ascii=False, sort_keys=True,
                               indent=1 if a.people <= 1000 else None))
            f.write("\n")


if __name__ == "__main__":
    main()
