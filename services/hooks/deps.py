"""Dependencies of the hooks routes, as `Annotated` aliases."""

from typing import Annotated

from fastapi import Depends, Request

from services.hooks.config import HooksSettings


async def get_settings(request: Request) -> HooksSettings:
    settings: HooksSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[HooksSettings, Depends(get_settings)]
