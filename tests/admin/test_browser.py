"""The admin pages in a real browser (Debian's chromium driven by Playwright) against a real
uvicorn and PostgreSQL: log in, the dashboard with seeded data, a professional refused for a bad
RPPS then created, an API client whose key is shown once and refused by the API once revoked.
Screenshots of each page land in artifacts/screenshots/ (gitignored)."""

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.security import hash_password
from app.models import AdminUser
from tests.admin.conftest import EMAIL, PASSWORD
from tests.concurrency.conftest import running_servers
from tests.conftest import migrated_database, new_rpps
from tests.dispatch_factories import World, add_slots, make_world

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None:
    pytest.skip(
        "\n\n*** chromium is not installed: the admin browser tests are SKIPPED. "
        "Install it with `apt-get install -y chromium` (.ci/run does so as root). ***\n",
        allow_module_level=True,
    )


async def _seed(url: str) -> World:
    engine = create_engine(url, Settings(database_url=url))
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            world = await make_world(session, professionals=2)
            start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
            await add_slots(session, world, 6, start=start)
            await add_slots(session, world, 2, start=start + timedelta(hours=5), status="held")
            await session.execute(
                insert(AdminUser).values(email=EMAIL, password_hash=hash_password(PASSWORD))
            )
        return world
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def served(server_url: str) -> AsyncIterator[tuple[str, World]]:
    async with migrated_database(server_url, "snp_admin_browser") as url:
        world = await _seed(url)
        with running_servers(url, {"API_KEY_CACHE_SECONDS": "0"}) as base_urls:
            yield base_urls[0], world


async def test_coordinator_logs_in_creates_a_professional_and_a_client_then_revokes_it(
    served: tuple[str, World],
) -> None:
    from playwright.async_api import async_playwright, expect

    base, world = served
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    territory = f"?territoire={world.territory_id}"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context(base_url=base, locale="fr-FR")).new_page()

            async def shot(name: str) -> None:
                await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

            # Log in: an unknown visitor is sent to the login page.
            await page.goto("/admin/professionnels")
            await expect(page).to_have_url(f"{base}/admin/login?suivant=%2Fadmin%2Fprofessionnels")
            await shot("01-connexion")
            await page.get_by_label("Adresse électronique").fill(EMAIL)
            await page.get_by_label("Mot de passe").fill(PASSWORD)
            await page.get_by_role("button", name="Se connecter").click()
            await expect(page.get_by_role("heading", name="Professionnels")).to_be_visible()

            # The dashboard with the seeded slots (12 free, 4 held).
            await page.goto("/admin" + territory)
            await expect(page.get_by_text("libres : 12")).to_be_visible()
            await expect(page.get_by_text("réservés : 4")).to_be_visible()
            await expect(page.locator("svg rect").first).to_be_visible()
            await shot("02-tableau-de-bord")

            # A professional: a bad RPPS is refused next to its field, then a good one.
            await page.goto("/admin/professionnels/nouveau" + territory)
            await page.get_by_label("Numéro RPPS").fill("123")
            await page.locator("#f-family_name").fill("Lefebvre")
            await page.locator("#f-given_name").fill("Inès")
            await page.get_by_role("button", name="Créer").click()
            error = page.locator("#f-rpps-error")
            await expect(error).to_have_text("Le numéro RPPS compte exactement 11 chiffres.")
            await expect(page.get_by_label("Numéro RPPS")).to_have_attribute("aria-invalid", "true")
            await shot("03-professionnel-rpps-refuse")
            rpps = new_rpps()
            await page.get_by_label("Numéro RPPS").fill(rpps)
            await page.get_by_role("button", name="Créer").click()
            await expect(page.get_by_text("Professionnel créé.")).to_be_visible()
            await shot("04-professionnel-cree")
            # The list narrows as one types (htmx), without submitting the form.
            await page.goto("/admin/professionnels" + territory)
            await page.get_by_label("Rechercher").press_sequentially("Lefeb")
            await expect(page.get_by_role("link", name="Lefebvre Inès")).to_be_visible()
            await expect(page.get_by_role("link", name="Martin Camille")).to_have_count(0)
            await page.goto(f"/admin/professionnels{territory}&q={rpps}")
            await expect(page.get_by_role("link", name="Lefebvre Inès")).to_be_visible()
            await shot("05-professionnels")

            # An API client: its key shown once, working, then refused once revoked.
            await page.goto("/admin/clients/nouveau" + territory)
            await page.locator("#f-name").fill("Régulation navigateur")
            await page.get_by_label("Rôle").select_option("regulator")
            await page.get_by_label("Territoires").select_option(str(world.territory_id))
            await page.get_by_role("button", name="Créer le client").click()
            await expect(
                page.get_by_text("Cette clé n'est affichée qu'une seule fois.")
            ).to_be_visible()
            key = await page.get_by_label("Clé d'API").input_value()
            assert key.startswith("snp_")
            await expect(page.get_by_role("button", name="Copier la clé")).to_be_visible()
            await shot("06-client-cle-unique")
            search = {"location": {"lat": world.lat, "lon": world.lon}}
            api = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=base) as http:
                assert (
                    await http.post("/v1/searches", json=search, headers=api)
                ).status_code == 200
                await page.get_by_role("link", name="Voir le client").click()
                assert key not in await page.content()
                await page.get_by_role("button", name="Révoquer ce client").click()
                await expect(
                    page.get_by_text("Client révoqué : sa clé est refusée.")
                ).to_be_visible()
                await shot("07-client-revoque")
                refused = await http.post("/v1/searches", json=search, headers=api)
                assert refused.status_code == 401

            # The other pages, for the record.
            others = {
                "08-clients": "/admin/clients" + territory,
                "09-lieux": "/admin/lieux" + territory,
                "10-creneaux": (
                    f"/admin/creneaux{territory}&professionnel={world.professional_ids[0]}"
                ),
                "11-demandes-en-sus": "/admin/demandes" + territory,
                "12-journal": "/admin/journal" + territory,
                "13-indicateurs": "/admin/indicateurs" + territory,
                "14-client-webhook": f"/admin/clients/{world.source_id}" + territory,
                "15-parametres": "/admin/parametres" + territory,
            }
            for name, path in others.items():
                answer = await page.goto(path)
                assert answer is not None
                assert answer.status == 200, path
                await shot(name)
            await expect(page.get_by_label("Fuseau horaire")).to_have_value("Europe/Paris")
        finally:
            await browser.close()
