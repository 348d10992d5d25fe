# Set by preserve.auto.tfvars.json, which `preserve plan --emit terraform` writes next to
# terraform.yaml (Terraform loads *.auto.tfvars.json from the working directory by itself).

variable "preserve_plan_start" {
  description = "Start (UTC, ISO 8601) of the plan the tfvars file was written with; must match terraform.yaml."
  type        = string
}

variable "preserve_replicas_now" {
  description = "Replicas per deployment in the plan's first window."
  type        = map(number)
}

variable "preserve_gpu_limits" {
  description = "GPU limit per pool: the plan's peak GPUs (what the Karpenter NodePools cap)."
  type        = map(number)
}

# Module settings (defaults suit a cluster with KEDA installed and no Karpenter).

variable "plan_file" {
  description = "Path to terraform.yaml, relative to this module unless absolute."
  type        = string
  default     = "terraform.yaml"
}

variable "create_keda_scaled_objects" {
  description = "Apply a KEDA ScaledObject per deployment (needs KEDA's CRDs in the cluster)."
  type        = bool
  default     = true
}

variable "create_karpenter_node_pools" {
  description = "Apply a Karpenter NodePool per GPU pool (needs Karpenter's CRDs and the node class they name)."
  type        = bool
  default     = false
}
