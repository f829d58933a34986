"""A copy of siade_staging_data made a git repository, with one commit adding a broken case and a good case.

What a contributor's pull request looks like to `sandbox lint --changed-since`, `--baseline`,
the pre-commit hooks and the GitHub Action (`tests/test_lint_changes.py`,
`tests/test_precommit.py`, `scripts/precommit_try_repo.py`). The whole corpus is copied
(about 0.2 s for 22 MB): a changed case is linted in its real surroundings, old findings
included.

* the broken case (`insee_unites_legales/zz-entreprise-individuelle.yaml`) asks for a SIREN
  its payload does not describe (`payload-identifier`, twice) and keeps the placeholder
  description of `sandbox new-case` (`placeholder-text`, a warning);
* the good case (`insee_etablissements/200-a-completer.yaml`) is what `sandbox new-case`
  writes, with its title and description written.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.tools.placeholders import PLACEHOLDER_DESCRIPTION
from sandbox.tools.scaffold import new_case

TODAY = datetime.date(2026, 4, 28)
BROKEN = "payloads/api_entreprise_v3_insee_unites_legales/zz-entreprise-individuelle.yaml"
GOOD = "payloads/api_entreprise_v3_insee_etablissements/200-a-completer.yaml"
# Luhn-valid (and its SIRET 73282932000314) and used by no case of the corpus
NEW_SIREN = "732829320"
OLD_SIREN = "478464803"  # the company of the template, personne_physique_diffusible.yaml


@dataclass(frozen=True, slots=True)
class ChangedRepository:
    root: Path
    broken: str
    good: str

    def fix_broken(self) -> None:
        """The payload made to describe the SIREN asked for, and a real description."""
        path = self.root / self.broken
        text = path.read_text(encoding="utf-8")
        text = text.replace(f'"siren": "{OLD_SIREN}"', f'"siren": "{NEW_SIREN}"')
        text = text.replace(f'"siret_siege_social": "{OLD_SIREN}00319"', f'"siret_siege_social": "{NEW_SIREN}00314"')
        text = text.replace(PLACEHOLDER_DESCRIPTION, "Entrepreneur individuel diffusible, créé pour la démo")
        path.write_text(text, encoding="utf-8")


def git(root: Path, *arguments: str) -> str:
    """git in `root`, with an identity of its own (none is configured on a CI machine)."""
    command = ["git", "-c", "user.name=Contributrice", "-c", "user.email=contrib@example.org", *arguments]
    return subprocess.run(command, cwd=root, check=True, capture_output=True, text=True, timeout=120).stdout


def build(source: Path, destination: Path) -> ChangedRepository:
    """`source` copied to `destination`, committed, then the commit of the two new cases."""
    shutil.copytree(source, destination)
    git(destination, "init", "--quiet", "--initial-branch=main")
    git(destination, "add", "--all")
    git(destination, "commit", "--quiet", "--message", "corpus as published")
    template = destination / "payloads/api_entreprise_v3_insee_unites_legales/personne_physique_diffusible.yaml"
    text = template.read_text(encoding="utf-8")
    assert f"siren: '{OLD_SIREN}'" in text and f'"siret_siege_social": "{OLD_SIREN}00319"' in text
    text = text.replace(f"siren: '{OLD_SIREN}'", f"siren: '{NEW_SIREN}'")
    broken = "\n".join(
        f"description: '{PLACEHOLDER_DESCRIPTION}'" if line.startswith("description:") else line
        for line in text.split("\n")
    )
    (destination / BROKEN).write_text(broken, encoding="utf-8")
    made = new_case(destination, "api_entreprise_v3_insee_etablissements", today=TODAY)
    assert made.path == destination / GOOD, made.path
    good = made.text.replace("'À compléter : titre du cas'", "'Établissement d''une entreprise individuelle'")
    good = good.replace(PLACEHOLDER_DESCRIPTION, "Établissement actif, siège de son entreprise")
    made.path.write_text(good, encoding="utf-8")
    git(destination, "add", "--all")
    git(destination, "commit", "--quiet", "--message", "Deux nouveaux cas")
    return ChangedRepository(destination, BROKEN, GOOD)
