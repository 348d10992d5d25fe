# Applies a preserve plan to a Kubernetes cluster:
#   * a ConfigMap per deployment with its replica schedule (always),
#   * a KEDA ScaledObject per deployment that scales it on that schedule (create_keda_scaled_objects),
#   * a Karpenter NodePool per GPU pool capped at the plan's peak GPUs (create_karpenter_node_pools).
# Inputs: terraform.yaml and preserve.auto.tfvars.json from `preserve plan --emit terraform`.

terraform {
  required_version = ">= 1.3"
  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.23"
    }
  }
}

locals {
  plan_path = startswith(var.plan_file, "/") ? var.plan_file : "${path.module}/${var.plan_file}"
  plan      = yamldecode(file(local.plan_path))
}

resource "kubernetes_config_map_v1" "schedule" {
  for_each = local.plan.deployments

  metadata {
    name      = "${each.key}-preserve-schedule"
    namespace = local.plan.namespace
    labels = {
      "app.kubernetes.io/managed-by" = "preserve"
      "preserve.dev/pool"            = each.value.pool
      "preserve.dev/model"           = each.value.model
    }
  }

  data = {
    "segments.json"  = jsonencode(each.value.segments)
    "replicas_now"   = tostring(var.preserve_replicas_now[each.key])
    "replicas_floor" = tostring(each.value.replicas_floor)
    "replicas_peak"  = tostring(each.value.replicas_peak)
    "gpu"            = each.value.gpu
    "region"         = each.value.region
    "plan_start"     = local.plan.start
    "plan_end"       = local.plan.end
    "timezone"       = local.plan.timezone
  }

  lifecycle {
    precondition {
      condition     = local.plan.schema == "preserve.dev/terraform/v1"
      error_message = "${local.plan_path} is not a preserve terraform.yaml (schema preserve.dev/terraform/v1)."
    }
    precondition {
      condition     = local.plan.start == var.preserve_plan_start
      error_message = "terraform.yaml starts at ${local.plan.start} but preserve.auto.tfvars.json at ${var.preserve_plan_start}: write both with one `preserve plan --emit terraform` run."
    }
  }
}

# The manifests are built and schema-checked by preserve; Terraform applies them as they are.
# kubernetes_manifest reads the CRD from the cluster at plan time, so KEDA must be installed first.
resource "kubernetes_manifest" "keda_scaled_object" {
  for_each = { for name, deployment in local.plan.deployments : name => deployment if var.create_keda_scaled_objects }

  manifest = each.value.keda_scaled_object
}

resource "kubernetes_manifest" "karpenter_node_pool" {
  for_each = { for name, pool in local.plan.pools : name => pool if var.create_karpenter_node_pools }

  manifest = each.value.karpenter_node_pool

  lifecycle {
    precondition {
      condition     = each.value.gpu_limit == var.preserve_gpu_limits[each.key]
      error_message = "GPU limit of pool ${each.key} differs between terraform.yaml and preserve.auto.tfvars.json."
    }
  }
}
