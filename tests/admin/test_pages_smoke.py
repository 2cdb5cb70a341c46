import httpx

PAGES = [
    "/admin",
    "/admin/professionnels",
    "/admin/professionnels/nouveau",
    "/admin/lieux",
    "/admin/lieux/nouveau",
    "/admin/creneaux",
    "/admin/clients",
    "/admin/clients/nouveau",
    "/admin/demandes",
    "/admin/journal",
    "/admin/parametres",
    "/admin/territoires",
]


async def test_every_page_renders_for_a_signed_in_admin(signed_in: httpx.AsyncClient) -> None:
    for path in PAGES:
        answer = await signed_in.get(path)
        assert answer.status_code == 200, (path, answer.text[:2000])
        assert '<html lang="fr">' in answer.text
