# The parts of pulumi_aws this project uses, for mypy alone (pyproject.toml: mypy_path).
#
# pulumi_aws's own __init__ imports all of its 250-odd service modules under TYPE_CHECKING, so mypy
# analysed every one (600 MB of cache, two thirds of a cold run's 110 s) to check code that uses 18.
# This stub re-exports those 18 from the installed package, with their real types; any other
# `aws.<service>` is an error ("Module has no attribute") until its line is added here.

from . import acm as acm
from . import autoscaling as autoscaling
from . import budgets as budgets
from . import cloudfront as cloudfront
from . import cloudwatch as cloudwatch
from . import ec2 as ec2
from . import elasticache as elasticache
from . import iam as iam
from . import kms as kms
from . import lb as lb
from . import pricingplanmanager as pricingplanmanager
from . import rds as rds
from . import route53 as route53
from . import s3 as s3
from . import secretsmanager as secretsmanager
from . import sns as sns
from . import vpc as vpc
from . import wafv2 as wafv2
from .get_availability_zones import get_availability_zones as get_availability_zones
from .get_caller_identity import get_caller_identity_output as get_caller_identity_output
from .provider import Provider as Provider
