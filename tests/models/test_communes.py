"""Every French commune is loaded by the migrations, Corsica included."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def test_every_commune_of_the_shipped_file_is_loaded(connection: AsyncConnection) -> None:
    assert await connection.scalar(text("SELECT count(*) FROM communes")) == 34_969


async def test_corsican_communes_keep_their_2a_2b_codes(connection: AsyncConnection) -> None:
    rows: dict[str, str] = dict(
        (
            await connection.execute(
                text("SELECT insee_code, name FROM communes WHERE insee_code IN ('2A004', '2B033')")
            )
        ).all()
    )
    assert rows == {"2A004": "Ajaccio", "2B033": "Bastia"}
    assert (
        await connection.scalar(
            text(
                "SELECT count(DISTINCT departement) FROM communes WHERE departement IN ('2A', '2B')"
            )
        )
        == 2
    )


async def test_a_commune_carries_all_its_postcodes(connection: AsyncConnection) -> None:
    postcodes = await connection.scalar(
        text("SELECT postcodes FROM communes WHERE insee_code = '44109'")
    )
    assert {"44000", "44100", "44200", "44300"} <= set(postcodes)
