"""Local fakes of third-party providers Kopilka cannot reach from a test or a demo (SMS.ru,
UniSender, iikoCloud). Each is a real HTTP server on 127.0.0.1 speaking the provider's wire
protocol (``reference/integrations.md`` §3, §4), with knobs to answer errors or stall."""

from kopilka.fakes.iiko import IikoFake
from kopilka.fakes.smsru import SmsRuFake
from kopilka.fakes.unisender import UniSenderFake

__all__ = ["IikoFake", "SmsRuFake", "UniSenderFake"]
