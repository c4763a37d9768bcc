#!/usr/bin/env python3
"""Generates the Active Directory test content for scripts/testenv/samba.sh, deterministically.

    gen-ad.py --password-file FILE --out ad.ldif --manifest ad.json [--users N] [--seed S]
              [--base-dn DC=example,DC=org]

Output is for `ldapmodify -a` over ldaps as Administrator (changetype records, dependency order:
AD checks that member DNs exist, so member groups come before the groups that contain them, and
the cycle is closed by a modify after both groups exist).

WHAT IT GENERATES (under OU=AccessSync,<base>):
  OU=People   users (objectClass user): sAMAccountName, userPrincipalName, givenName, sn,
              displayName, mail, RFC 2307 uidNumber/gidNumber/unixHomeDirectory/loginShell
              (the domain is provisioned with --use-rfc2307), unicodePwd = the shared password
              from --password-file. Awkward: Unicode displayName/sn, a CN with an escaped comma
              (CN=Doe\\, John), an upper-case sAMAccountName, one user without mail.
              Disabled: userAccountControl 514 in the LDIF ("userAccountControl"); two more are
              disabled afterwards by samba.sh with `samba-tool user disable` ("samba-tool"); one
              has accountExpires in the past ("accountExpires"); one has accountExpires far in
              the future and is active.
  OU=Groups   global security groups (objectClass group): jupyter-users (contains the nested
              group jupyter-interns), jupyter-interns, jupyter-admins (one disabled member),
              data-science, ml-platform (contains data-science), finance-analytics,
              big-group (30 members), cycle-a <-> cycle-b (a cycle), cycle-entry (-> cycle-a).

MANIFEST (JSON, "format": 1): base_dn, people_base, groups_base, users [{dn, sAMAccountName,
  userPrincipalName, displayName, mail, uidNumber, disabled, disabled_by
  ("userAccountControl"|"samba-tool"|"accountExpires"|null)}], groups [{dn, cn, members [DNs],
  nested [cn..]}], logical_groups {cn: {effective_users [sAMAccountName..]}}, cycles, awkward,
  samba_tool_disable [sAMAccountName..] (samba.sh disables these after loading).
"""

import argparse
import base64
import json
import random

FIRST = ["Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Iris", "Jamal",
         "Keiko", "Luis", "Maya", "Nils", "Olga", "Pedro", "Qiu", "Rania", "Stefan", "Tanya"]
LAST = ["Adams", "Baker", "Clark", "Diaz", "Evans", "Foster", "Gomez", "Hayes", "Ito", "Jensen",
        "Kumar", "Lund", "Moss", "Nash", "Ortiz", "Price", "Quinn", "Reyes", "Shaw", "Tran"]
# FILETIME: 100 ns intervals since 1601-01-01. 2001-01-01 and 2100-01-01.
EXPIRED = 126227808000000000
FUTURE = 157766016000000000


def b64(s: str) -> str:
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def line(attr: str, value: str) -> str:
    if value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")) \
            and not value.endswith(" "):
        return f"{attr}: {value}\n"
    return f"{attr}:: {b64(value)}\n"


def escape_rdn(v: str) -> str:
    out = []
    for i, ch in enumerate(v):
        if ch in ',+"\\<>;=' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(v) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base-dn", default="DC=example,DC=org")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with open(a.password_file, encoding="utf-8") as f:
        password = f.read().strip()
    unicode_pwd = base64.b64encode(f'"{password}"'.encode("utf-16-le")).decode("ascii")

    top = f"OU=AccessSync,{a.base_dn}"
    people_base = f"OU=People,{top}"
    groups_base = f"OU=Groups,{top}"
    out = []
    users = []

    def add_user(sam, given, sn, display=None, cn=None, mail=True, uac=512, expires=None, tags=()):
        n = len(users)
        cn = cn or f"{given} {sn}"
        dn = f"CN={escape_rdn(cn)},{people_base}"
        u = {"dn": dn, "sAMAccountName": sam, "userPrincipalName": f"{sam.lower()}@example.org",
             "displayName": display or f"{given} {sn}", "mail": f"{sam.lower()}@example.org" if mail else None,
             "uidNumber": 30000 + n, "disabled": uac & 2 == 2, "disabled_by": "userAccountControl" if uac & 2 else None,
             "accountExpires": expires, "tags": list(tags)}
        if expires == EXPIRED:
            u["disabled"], u["disabled_by"] = True, "accountExpires"
        users.append(u)
        rec = [line("dn", dn), "changetype: add\n", "objectClass: user\n", line("cn", cn),
               f"sAMAccountName: {sam}\n", f"userPrincipalName: {u['userPrincipalName']}\n",
               line("givenName", given), line("sn", sn), line("displayName", u["displayName"])]
        if mail:
            rec.append(f"mail: {u['mail']}\n")
        rec += [f"uidNumber: {u['uidNumber']}\n", "gidNumber: 30000\n",
                f"unixHomeDirectory: /home/{sam.lower()}\n", "loginShell: /bin/bash\n",
                f"unicodePwd:: {unicode_pwd}\n", f"userAccountControl: {uac}\n"]
        if expires is not None:
            rec.append(f"accountExpires: {expires}\n")
        out.append("".join(rec) + "\n")
        return u

    awkward = []
    u = add_user("zoe.a", "Zoë", "Ångström", display="Zoë Ångström (Data)", tags=["unicode"])
    awkward.append({"case": "unicode", "dn": u["dn"], "note": "Unicode givenName/sn/displayName/CN"})
    u = add_user("jdoe", "John", "Doe", cn="Doe, John", tags=["escaped-comma"])
    awkward.append({"case": "escaped-comma", "dn": u["dn"], "note": "CN=Doe\\, John"})
    u = add_user("MSMITH", "Mary", "Smith", tags=["uppercase"])
    awkward.append({"case": "uppercase-sam", "dn": u["dn"], "note": "sAMAccountName in capitals"})
    u = add_user("nomail", "No", "Mail", mail=False, tags=["no-mail"])
    awkward.append({"case": "missing-optional", "dn": u["dn"], "note": "no mail"})
    u = add_user("expired1", "Ex", "Pired", expires=EXPIRED, tags=["expired"])
    awkward.append({"case": "expired", "dn": u["dn"], "note": "accountExpires 2001-01-01: disabled"})
    u = add_user("future1", "Fu", "Ture", expires=FUTURE, tags=["future-expiry"])
    awkward.append({"case": "future-expiry", "dn": u["dn"], "note": "accountExpires 2100-01-01: active"})
    seen = {x["sAMAccountName"].lower() for x in users}
    while len(users) < a.users:
        g, s = rng.choice(FIRST), rng.choice(LAST)
        sam = (g[0] + s).lower()
        k = 1
        while sam in seen:
            k += 1
            sam = f"{(g[0] + s).lower()}{k}"
        seen.add(sam)
        add_user(sam, g, s, cn=f"{g} {s}" if k == 1 else f"{g} {s} {k}",
                 uac=514 if len(users) % 13 == 7 else 512)
    regular = [x for x in users[6:]]
    active = [x for x in regular if not x["disabled"]]
    samba_tool_disable = [active[-1]["sAMAccountName"], active[-2]["sAMAccountName"]]
    for x in users:
        if x["sAMAccountName"] in samba_tool_disable:
            x["disabled"], x["disabled_by"] = True, "samba-tool"
    disabled = [x for x in regular if x["disabled"]]

    groups = {}

    def add_group(cn, members, nested=()):
        dn = f"CN={cn},{groups_base}"
        members = list({m["dn"]: m for m in members}.values())   # AD refuses duplicate values
        mem = [m["dn"] for m in members] + [groups[n]["dn"] for n in nested]
        groups[cn] = {"dn": dn, "cn": cn, "members": mem, "nested": list(nested),
                      "direct_users": [m["sAMAccountName"] for m in members]}
        rec = [f"dn: {dn}\n", "changetype: add\n", "objectClass: group\n", f"cn: {cn}\n",
               f"sAMAccountName: {cn}\n"] + [line("member", m) for m in mem]
        out.append("".join(rec) + "\n")

    interns = rng.sample(regular, 3)
    add_group("jupyter-interns", interns)
    ju = [x for x in users if x not in interns and x is not users[4]][:22] + disabled[:1]
    add_group("jupyter-users", ju, ["jupyter-interns"])
    add_group("jupyter-admins", [active[0], active[1]] + disabled[:1])
    add_group("data-science", rng.sample(regular, 8) + [users[0]])
    add_group("ml-platform", rng.sample(regular, 2), ["data-science"])
    add_group("finance-analytics", rng.sample(regular, 4) + [users[1], users[0]])
    add_group("big-group", regular[:30])
    add_group("cycle-b", rng.sample(regular, 2))
    add_group("cycle-a", rng.sample(regular, 2), ["cycle-b"])
    add_group("cycle-entry", rng.sample(regular, 1), ["cycle-a"])
    # Close the cycle: cycle-b -> cycle-a (AD allows circular nesting).
    out.append(f"dn: {groups['cycle-b']['dn']}\nchangetype: modify\nadd: member\n"
               f"member: {groups['cycle-a']['dn']}\n-\n\n")
    groups["cycle-b"]["members"].append(groups["cycle-a"]["dn"])
    groups["cycle-b"]["nested"].append("cycle-a")

    def effective(cn, stack=()):
        if cn in stack:
            return set()
        g = groups[cn]
        s = set(g["direct_users"])
        for n in g["nested"]:
            s |= effective(n, stack + (cn,))
        return s

    manifest = {
        "format": 1,
        "generator": "scripts/testenv/gen-ad.py",
        "base_dn": a.base_dn,
        "people_base": people_base,
        "groups_base": groups_base,
        "users": users,
        "groups": list(groups.values()),
        "logical_groups": {cn: {"effective_users": sorted(effective(cn), key=str.lower)} for cn in groups},
        "cycles": [{"path": [groups["cycle-a"]["dn"], groups["cycle-b"]["dn"], groups["cycle-a"]["dn"]]}],
        "awkward": awkward,
        "samba_tool_disable": samba_tool_disable,
        "policy_groups": ["jupyter-users", "jupyter-admins", "data-science", "ml-platform", "finance-analytics"],
    }
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(f"dn: {top}\nchangetype: add\nobjectClass: organizationalUnit\nou: AccessSync\n\n")
        f.write(f"dn: {people_base}\nchangetype: add\nobjectClass: organizationalUnit\nou: People\n\n")
        f.write(f"dn: {groups_base}\nchangetype: add\nobjectClass: organizationalUnit\nou: Groups\n\n")
        f.write("".join(out))
    with open(a.manifest, "w", encoding="utf-8") as f:
        f.write(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
