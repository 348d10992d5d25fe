output "schedule_config_maps" {
  description = "ConfigMap name per deployment."
  value       = { for name, config_map in kubernetes_config_map_v1.schedule : name => config_map.metadata[0].name }
}

output "keda_scaled_objects" {
  description = "KEDA ScaledObject name per deployment (empty when create_keda_scaled_objects is false)."
  value       = { for name, deployment in local.plan.deployments : name => deployment.keda_scaled_object.metadata.name if var.create_keda_scaled_objects }
}

output "karpenter_node_pools" {
  description = "NodePool name and GPU limit per pool (empty when create_karpenter_node_pools is false)."
  value       = { for name, pool in local.plan.pools : name => { name = pool.karpenter_node_pool.metadata.name, gpu_limit = pool.gpu_limit } if var.create_karpenter_node_pools }
}

output "replicas_now" {
  description = "Replicas per deployment in the plan's first window."
  value       = var.preserve_replicas_now
}

output "gpu_limits" {
  description = "GPU limit per pool."
  value       = var.preserve_gpu_limits
}

output "plan_cost_usd" {
  description = "Cost of the whole plan horizon in USD."
  value       = local.plan.totals.cost_usd
}
